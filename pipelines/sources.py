"""Frame sources: video files and RTSP cameras decoded by GStreamer into BGR numpy frames.

`open_source(uri)` builds `uridecodebin ! videoconvert ! video/x-raw,format=BGR ! appsink` and pulls
samples from the calling thread (no GLib main loop). A file is decoded completely and in order (the
appsink never drops: the same file always yields the same frames); a live RTSP source discards (and
counts) newly decoded frames while the consumer is `queue_max` frames behind. RTSP goes over TCP with a
low jitter-buffer latency. GStreamer is imported (and initialised) only when a source is opened.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from detectors.base import FrameBGR

logger = logging.getLogger(__name__)

_LIVE_SCHEMES = frozenset({"rtsp", "rtsps", "rtspt"})
_NS_PER_MS = 1_000_000
#: pts slack when subsampling to analysis_fps (pts_ms are whole milliseconds: 30 fps = 0, 33, 66, 100).
_PTS_SLACK_NS = 1_000_000
#: How long one pull waits before the loop looks at the bus and the watchdog again.
_POLL_NS = 100 * _NS_PER_MS
#: RTSP jitter-buffer latency: low, the pipeline favours freshness over smoothness.
DEFAULT_RTSP_LATENCY_MS = 200


class SourceError(RuntimeError):
    """A source could not be opened or failed while running; the message names the cause."""


@dataclass(frozen=True, slots=True)
class Frame:
    image_bgr: FrameBGR
    pts_ms: int
    index: int


def redact_uri(uri: str) -> str:
    """The URI without its password (safe to log)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def resolve_uri(uri: str) -> tuple[str, bool]:
    """`(gstreamer_uri, is_live)` for a plain path, file:// or rtsp:// URI; SourceError when unusable."""
    scheme = urllib.parse.urlsplit(uri).scheme.lower() if "://" in uri else ""
    if scheme in _LIVE_SCHEMES:
        return uri, True
    if scheme not in ("", "file"):
        raise SourceError(
            f"unsupported source URI scheme {scheme!r} in {redact_uri(uri)} (use a path, file:// or rtsp://)"
        )
    path = Path(urllib.parse.unquote(urllib.parse.urlsplit(uri).path)) if scheme else Path(uri)
    if not path.exists():
        raise SourceError(f"video not found: {path}")
    if not path.is_file():
        raise SourceError(f"video is not a file: {path}")
    return path.resolve().as_uri(), False


def open_source(
    uri: str,
    *,
    queue_max: int = 8,
    watchdog_s: float = 10.0,
    analysis_fps: float | None = None,
    rtsp_latency_ms: int = DEFAULT_RTSP_LATENCY_MS,
) -> FrameSource:
    """Open and start decoding; returns once the first frame is decoded (or raises SourceError).

    `queue_max`: decoded frames buffered ahead of the consumer. `watchdog_s`: no frame for this long
    fails the source. `analysis_fps`: yield only frames whose pts advanced >= 1/analysis_fps since the
    last yielded one (deterministic: pts-based). Iterating ends at a file's end; a live source ends
    only by `close()` or a SourceError (a live stream's EOS is a failure).
    """
    if queue_max < 1:
        raise ValueError(f"queue_max must be >= 1, got {queue_max}")
    if watchdog_s <= 0:
        raise ValueError(f"watchdog_s must be > 0, got {watchdog_s}")
    if analysis_fps is not None and analysis_fps <= 0:
        raise ValueError(f"analysis_fps must be > 0, got {analysis_fps}")
    gst_uri, live = resolve_uri(uri)
    source = FrameSource(
        gst_uri,
        live=live,
        queue_max=queue_max,
        watchdog_s=watchdog_s,
        analysis_fps=analysis_fps,
        rtsp_latency_ms=rtsp_latency_ms,
    )
    try:
        source.start()
    except BaseException:
        source.close()
        raise
    return source


def _gst() -> tuple[Any, Any, Any]:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstApp", "1.0")
    gi.require_version("GstVideo", "1.0")
    from gi.repository import Gst, GstApp, GstVideo

    if not Gst.is_initialized():
        Gst.init(None)
    return Gst, GstApp, GstVideo


class FrameSource(Iterator[Frame]):
    """Iterator of decoded `Frame`s; close it (or use `with`) to stop the pipeline."""

    def __init__(
        self,
        uri: str,
        *,
        live: bool,
        queue_max: int,
        watchdog_s: float,
        analysis_fps: float | None,
        rtsp_latency_ms: int = DEFAULT_RTSP_LATENCY_MS,
    ) -> None:
        self.uri = uri
        self.live = live
        self._rtsp_latency_ms = rtsp_latency_ms
        self._caps: Any = None
        self._queue_max = queue_max
        self._watchdog_s = watchdog_s
        self._min_step_ns = None if analysis_fps is None else round(1e9 / analysis_fps) - _PTS_SLACK_NS
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
        gst, _, _ = _gst()
        self._gst = gst
        pipeline = gst.Pipeline.new("anfang-source")
        decode = gst.ElementFactory.make("uridecodebin", "decode")
        convert = gst.ElementFactory.make("videoconvert", "convert")
        capsfilter = gst.ElementFactory.make("capsfilter", "bgr")
        appsink = gst.ElementFactory.make("appsink", "sink")
        if None in (decode, convert, capsfilter, appsink):
            raise SourceError("GStreamer elements missing (install gstreamer1.0-plugins-base/-good/-libav)")
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
            raise SourceError("cannot link videoconvert ! capsfilter ! appsink")
        decode.connect("pad-added", self._on_pad_added, convert)
        decode.connect("source-setup", self._on_source_setup)
        appsink.get_static_pad("sink").add_probe(gst.PadProbeType.BUFFER, self._on_buffer)
        self._pipeline, self._appsink = pipeline, appsink
        if pipeline.set_state(gst.State.PLAYING) == gst.StateChangeReturn.FAILURE:
            self._raise_bus_error(f"cannot start decoding {redact_uri(self.uri)}")
        self._pending = self._pull()
        if self._pending is None:
            raise SourceError(f"no decodable video frames in {redact_uri(self.uri)}")
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

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- GStreamer callbacks (streaming threads) -------------------------------------------------
    @staticmethod
    def _on_pad_added(_decode: Any, pad: Any, convert: Any) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        sink = convert.get_static_pad("sink")
        if caps.to_string().startswith("video/") and not sink.is_linked():
            pad.link(sink)

    def _on_source_setup(self, _decode: Any, source: Any) -> None:
        names = {p.name for p in source.list_properties()}
        if "latency" in names:
            source.set_property("latency", self._rtsp_latency_ms)
        if "protocols" in names:
            self._gst.util_set_object_arg(source, "protocols", "tcp")
        if "drop-on-latency" in names:
            source.set_property("drop-on-latency", True)

    def _on_buffer(self, _pad: Any, _info: Any) -> Any:
        self.frames_decoded += 1
        if self.live and self.frames_decoded - self.frames_dropped - self._pulled > self._queue_max:
            self.frames_dropped += 1
            return self._gst.PadProbeReturn.DROP
        return self._gst.PadProbeReturn.OK

    # --- iteration -------------------------------------------------------------------------------
    def __iter__(self) -> FrameSource:
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
        pts_ns = frame.pts_ms * _NS_PER_MS
        if self._last_yielded_pts_ns is not None and pts_ns - self._last_yielded_pts_ns < self._min_step_ns:
            return False
        self._last_yielded_pts_ns = pts_ns
        return True

    def _pull(self) -> Frame | None:
        """Next decoded frame; None at the end of a file; SourceError on failure or silence."""
        deadline = time.monotonic() + self._watchdog_s
        while True:
            pipeline, appsink = self._pipeline, self._appsink
            if pipeline is None:  # closed, possibly from another thread
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
                    raise SourceError(f"stream ended: {redact_uri(self.uri)}")
                self._log_end()
                return None
            if time.monotonic() > deadline:
                raise SourceError(f"no frame for {self._watchdog_s:g} s from {redact_uri(self.uri)}")

    def _check_bus(self, bus: Any) -> None:
        """Log warnings; an error fails a live source, or a file that has produced no frame yet.

        A file that fails midway (damaged tail) ends after the frames already decoded, with a warning:
        what is decodable is analysed, the loss is counted in `errors`.
        """
        gst = self._gst
        while (msg := bus.pop_filtered(gst.MessageType.ERROR | gst.MessageType.WARNING)) is not None:
            is_error = msg.type == gst.MessageType.ERROR
            err, _debug = msg.parse_error() if is_error else msg.parse_warning()
            cause = f"{err.message} ({msg.src.get_name()})"
            if not is_error:
                self.warnings += 1
                logger.warning("source %s: %s", redact_uri(self.uri), cause)
                continue
            self.errors += 1
            if self.live or self._pulled == 0:
                raise SourceError(f"cannot decode {redact_uri(self.uri)}: {cause}")
            logger.warning(
                "source %s: decoding stopped after %d frames: %s", redact_uri(self.uri), self._pulled, cause
            )
            self._failed = True

    def _raise_bus_error(self, fallback: str) -> None:
        self._check_bus(self._pipeline.get_bus())
        raise SourceError(fallback)

    def _to_frame(self, sample: Any) -> Frame:
        buffer = sample.get_buffer()
        caps = sample.get_caps()
        if self._caps is None or not caps.is_equal(self._caps):
            self._read_caps(caps)
        width, height = self.resolution_wh
        ok, mapinfo = buffer.map(self._gst.MapFlags.READ)
        if not ok:
            raise SourceError(f"cannot map a decoded buffer of {redact_uri(self.uri)}")
        try:
            image = _to_bgr(mapinfo.data, width, height, self._stride)
        except ValueError as exc:
            raise SourceError(f"bad decoded buffer from {redact_uri(self.uri)}: {exc}") from exc
        finally:
            buffer.unmap(mapinfo)
        index = self._pulled
        self._pulled += 1
        pts_ms = self._monotonic_pts_ns(buffer.pts) // _NS_PER_MS
        return Frame(image_bgr=image, pts_ms=pts_ms, index=index)

    def _monotonic_pts_ns(self, pts: int) -> int:
        """The buffer's pts, or last + one frame period when missing or not increasing.

        AVI files with packed B-frames (e.g. Megamind.avi) come out of the decoder with repeated pts.
        """
        last = self._last_pts_ns
        if pts != self._gst.CLOCK_TIME_NONE and (last is None or pts > last):
            self._last_pts_ns = int(pts)
            return int(pts)
        if last is None:
            self._last_pts_ns = 0
            return 0
        self.pts_repaired += 1
        period_ns = round(1e9 / self.fps) if self.fps else _NS_PER_MS
        self._last_pts_ns = last + period_ns
        return self._last_pts_ns

    def _read_caps(self, caps: Any) -> None:
        _, _, gst_video = _gst()
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


def _to_bgr(data: Any, width: int, height: int, stride: int) -> FrameBGR:
    """Copy a mapped BGR buffer (rows possibly padded to `stride` bytes) into an H x W x 3 array."""
    row_bytes = width * 3
    flat = np.frombuffer(data, dtype=np.uint8, count=stride * (height - 1) + row_bytes)
    if stride == row_bytes:
        return flat.reshape(height, width, 3).copy()
    rows = np.lib.stride_tricks.as_strided(flat, shape=(height, width, 3), strides=(stride, 3, 1))
    return rows.copy()  # always a copy: the mapped buffer goes back to GStreamer
