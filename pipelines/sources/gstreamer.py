"""`GstSource`: a GStreamer decoding pipeline pulled frame by frame from the calling thread.

`uridecodebin ! videoconvert ! video/x-raw,format=BGR ! appsink`, with no GLib main loop. Open one
with `pipelines.sources.open_source`, which validates the options and the URI first. Every failure
is a `SourceError` whose `cause` says why (classified from GStreamer's own error text).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from events.cameras import OfflineCause, redact_text, redact_uri
from pipelines.sources.base import NS_PER_MS, Frame, SourceError, SourceOptions
from pipelines.sources.gst_helpers import classify_error, import_gst, link_video_pad, repair_pts_ns, to_bgr

logger = logging.getLogger(__name__)

#: pts slack when subsampling to analysis_fps (pts_ms are whole milliseconds: 30 fps = 0, 33, 66, 100).
_PTS_SLACK_NS = 1_000_000
#: How long one pull waits before the loop looks at the bus and the watchdog again.
_POLL_NS = 100 * NS_PER_MS


class GstSource(Iterator[Frame]):
    """Iterator of decoded `Frame`s; close it (or use `with`) to stop the pipeline."""

    def __init__(self, uri: str, *, live: bool, options: SourceOptions) -> None:
        self.uri = uri
        self.live = live
        self._options = options
        self._caps: Any = None
        self._queue_max = options.queue_max
        self._watchdog_s = options.stall_s
        fps = options.analysis_fps
        self._min_step_ns = None if fps is None else round(1e9 / fps) - _PTS_SLACK_NS
        self._stop_requested = False
        self._last_warning: str | None = None
        self._pipeline: Any = None
        self._appsink: Any = None
        self._pending: Frame | None = None
        self._last_yielded_pts_ns: int | None = None
        self._finished = False
        self._gst: Any = None
        self._stride = 0
        self._pulled = 0
        #: frames out of the decoder (streaming thread counts them at the appsink's pad)
        self.frames_decoded = 0
        #: frames of a live source discarded because the consumer fell `queue_max` frames behind
        self.frames_dropped = 0
        #: frames passed over to honour `analysis_fps`
        self.frames_skipped = 0
        #: GStreamer warnings seen (decode glitches of a damaged stream land here)
        self.warnings = 0
        #: GStreamer errors (a file that fails midway ends early instead of raising)
        self.errors = 0
        #: frames whose pts was missing or not increasing, replaced by last pts + one frame period
        self.pts_repaired = 0
        self._failed = False
        self._last_pts_ns: int | None = None
        self.resolution_wh: tuple[int, int] = (0, 0)
        self.fps: float | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        gst, _, _ = import_gst()
        self._gst = gst
        pipeline = gst.Pipeline.new("anfang-source")
        decode = gst.ElementFactory.make("uridecodebin", "decode")
        convert = gst.ElementFactory.make("videoconvert", "convert")
        capsfilter = gst.ElementFactory.make("capsfilter", "bgr")
        appsink = gst.ElementFactory.make("appsink", "sink")
        if None in (decode, convert, capsfilter, appsink):
            raise SourceError(
                "GStreamer elements missing (install gstreamer1.0-plugins-base/-good/-libav)",
                OfflineCause.DECODE_ERROR,
            )
        decode.set_property("uri", self.uri)
        decode.set_property("caps", gst.Caps.from_string("video/x-raw(ANY)"))
        decode.set_property("expose-all-streams", False)
        capsfilter.set_property("caps", gst.Caps.from_string("video/x-raw,format=BGR"))
        appsink.set_property("sync", False)
        # a live source drops in _on_buffer (counted); appsink's own dropping is only a backstop
        appsink.set_property("max-buffers", self._queue_max + 1 if self.live else self._queue_max)
        appsink.set_property("drop", self.live)
        appsink.set_property("emit-signals", False)
        for element in (decode, convert, capsfilter, appsink):
            pipeline.add(element)
        if not (convert.link(capsfilter) and capsfilter.link(appsink)):
            raise SourceError("cannot link videoconvert ! capsfilter ! appsink", OfflineCause.DECODE_ERROR)
        decode.connect("pad-added", link_video_pad, convert)
        decode.connect("source-setup", self._on_source_setup)
        appsink.get_static_pad("sink").add_probe(gst.PadProbeType.BUFFER, self._on_buffer)
        self._pipeline, self._appsink = pipeline, appsink
        if pipeline.set_state(gst.State.PLAYING) == gst.StateChangeReturn.FAILURE:
            self._raise_bus_error(f"cannot start decoding {redact_uri(self.uri)}")
        self._pending = self._pull()
        if self._pending is None:
            if self._stop_requested:
                raise SourceError(f"stopped while opening {redact_uri(self.uri)}", OfflineCause.STREAM_ENDED)
            raise SourceError(
                f"no decodable video frames in {redact_uri(self.uri)}", OfflineCause.DECODE_ERROR
            )
        logger.info(
            "source %s: %dx%d @ %s fps (%s)",
            redact_uri(self.uri),
            *self.resolution_wh,
            f"{self.fps:g}" if self.fps else "?",
            "live" if self.live else "file",
        )

    @property
    def duration_ms(self) -> int | None:
        """Length of a file source; None for live streams or when the container does not say."""
        if self.live or self._pipeline is None:
            return None
        ok, duration_ns = self._pipeline.query_duration(self._gst.Format.TIME)
        return int(duration_ns) // 1_000_000 if ok and duration_ns > 0 else None

    def close(self) -> None:
        if self._pipeline is not None:
            self._pipeline.set_state(self._gst.State.NULL)
            self._pipeline = self._appsink = None
        self._finished = True

    def request_stop(self) -> None:
        """Ask a pull in progress (possibly in another thread) to return; the owner then closes."""
        self._stop_requested = True

    def __enter__(self) -> GstSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- GStreamer callbacks (streaming threads) -------------------------------------------------
    def _on_source_setup(self, _decode: Any, source: Any) -> None:
        names = {p.name for p in source.list_properties()}
        if "latency" in names:
            source.set_property("latency", self._options.rtsp_latency_ms)
        if "protocols" in names:
            self._gst.util_set_object_arg(source, "protocols", self._options.rtsp_transport)
        if "drop-on-latency" in names:
            source.set_property("drop-on-latency", True)

    def _on_buffer(self, _pad: Any, _info: Any) -> Any:
        self.frames_decoded += 1
        if self.live and self.frames_decoded - self.frames_dropped - self._pulled > self._queue_max:
            self.frames_dropped += 1
            return self._gst.PadProbeReturn.DROP
        return self._gst.PadProbeReturn.OK

    # --- iteration -------------------------------------------------------------------------------
    def __iter__(self) -> GstSource:
        return self

    def __next__(self) -> Frame:
        while True:
            if self._pending is not None:
                frame, self._pending = self._pending, None
            elif self._finished or self._appsink is None:
                raise StopIteration
            else:
                pulled = self._pull()
                if pulled is None:
                    self.close()
                    raise StopIteration
                frame = pulled
            if self._want(frame):
                return frame
            self.frames_skipped += 1

    def _want(self, frame: Frame) -> bool:
        if self._min_step_ns is None:
            return True
        pts_ns = frame.pts_ms * NS_PER_MS
        if self._last_yielded_pts_ns is not None and pts_ns - self._last_yielded_pts_ns < self._min_step_ns:
            return False
        self._last_yielded_pts_ns = pts_ns
        return True

    def _pull(self) -> Frame | None:
        """Next decoded frame; None at the end of a file; SourceError on failure or silence."""
        deadline = time.monotonic() + self._watchdog_s
        while True:
            pipeline, appsink = self._pipeline, self._appsink
            if pipeline is None or self._stop_requested:  # closed or stopping, possibly from another thread
                return None
            self._check_bus(pipeline.get_bus())
            sample = appsink.try_pull_sample(_POLL_NS)
            if sample is not None:
                return self._to_frame(sample)
            if self._failed:
                self._log_end()
                return None
            if appsink.is_eos():
                if self.live:
                    raise SourceError(f"stream ended: {redact_uri(self.uri)}", OfflineCause.STREAM_ENDED)
                self._log_end()
                return None
            if time.monotonic() > deadline:
                raise SourceError(
                    f"no frame for {self._watchdog_s:g} s from {redact_uri(self.uri)}", OfflineCause.STALLED
                )

    def _check_bus(self, bus: Any) -> None:
        """Log warnings; an error fails a live source, or a file that has produced no frame yet.

        A file that fails midway (damaged tail) ends after the frames already decoded, with a warning:
        what is decodable is analysed, the loss is counted in `errors`.
        """
        gst = self._gst
        while (msg := bus.pop_filtered(gst.MessageType.ERROR | gst.MessageType.WARNING)) is not None:
            is_error = msg.type == gst.MessageType.ERROR
            err, debug = msg.parse_error() if is_error else msg.parse_warning()
            cause = redact_text(f"{err.message} ({msg.src.get_name()})")
            if not is_error:
                self.warnings += 1
                self._last_warning = redact_text(err.message)
                logger.warning("source %s: %s", redact_uri(self.uri), cause)
                continue
            self.errors += 1
            if self.live or self._pulled == 0:
                hint = f" ({self._last_warning})" if self._last_warning else ""
                raise SourceError(
                    f"cannot decode {redact_uri(self.uri)}: {cause}{hint}",
                    classify_error(f"{err.message} {debug}"),
                )
            logger.warning(
                "source %s: decoding stopped after %d frames: %s", redact_uri(self.uri), self._pulled, cause
            )
            self._failed = True

    def _raise_bus_error(self, fallback: str) -> None:
        self._check_bus(self._pipeline.get_bus())
        raise SourceError(fallback, OfflineCause.DECODE_ERROR)

    def _to_frame(self, sample: Any) -> Frame:
        buffer = sample.get_buffer()
        caps = sample.get_caps()
        if self._caps is None or not caps.is_equal(self._caps):
            self._read_caps(caps)
        width, height = self.resolution_wh
        ok, mapinfo = buffer.map(self._gst.MapFlags.READ)
        if not ok:
            raise SourceError(
                f"cannot map a decoded buffer of {redact_uri(self.uri)}", OfflineCause.DECODE_ERROR
            )
        try:
            image = to_bgr(mapinfo.data, width, height, self._stride)
        except ValueError as exc:
            raise SourceError(
                f"bad decoded buffer from {redact_uri(self.uri)}: {exc}", OfflineCause.DECODE_ERROR
            ) from exc
        finally:
            buffer.unmap(mapinfo)
        index = self._pulled
        self._pulled += 1
        pts_ms = self._monotonic_pts_ns(buffer.pts) // NS_PER_MS
        return Frame(image_bgr=image, pts_ms=pts_ms, index=index)

    def _monotonic_pts_ns(self, pts: int) -> int:
        """The buffer's pts, or last + one frame period when missing or not increasing (`repair_pts_ns`)."""
        pts_ns = None if pts == self._gst.CLOCK_TIME_NONE else int(pts)
        self._last_pts_ns, repaired = repair_pts_ns(pts_ns, self._last_pts_ns, self.fps)
        if repaired:
            self.pts_repaired += 1
        return self._last_pts_ns

    def _read_caps(self, caps: Any) -> None:
        _, _, gst_video = import_gst()
        info = gst_video.VideoInfo.new_from_caps(caps)
        if self._caps is not None:
            logger.info("source %s: caps changed to %s", redact_uri(self.uri), caps.to_string())
        self._caps = caps
        self.resolution_wh = (int(info.width), int(info.height))
        self._stride = int(info.stride[0])
        self.fps = info.fps_n / info.fps_d if info.fps_n > 0 and info.fps_d > 0 else None

    def _log_end(self) -> None:
        logger.info(
            "source %s ended: %d frames decoded, %d skipped, %d pts repaired, %d warnings, %d errors",
            redact_uri(self.uri),
            self.frames_decoded,
            self.frames_skipped,
            self.pts_repaired,
            self.warnings,
            self.errors,
        )
