"""Frame sources: video files and RTSP cameras decoded by GStreamer into BGR numpy frames.

`open_source(uri)` builds `uridecodebin ! videoconvert ! video/x-raw,format=BGR ! appsink` and pulls
samples from the calling thread (no GLib main loop). A file is decoded completely and in order (the
appsink never drops: the same file always yields the same frames); a live RTSP source discards (and
counts) newly decoded frames while the consumer is `queue_max` frames behind. RTSP goes over TCP with a
low jitter-buffer latency. GStreamer is imported (and initialised) only when a source is opened.

The implementation lives in `pipelines.frame_source` (the `FrameSource` pipeline) and
`pipelines.gst_frames` (`Frame`, `SourceError` and the GStreamer helpers); import them from here.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from pipelines.frame_source import DEFAULT_RTSP_LATENCY_MS, FrameSource
from pipelines.gst_frames import Frame, SourceError, redact_uri
from pipelines.gst_frames import to_bgr as _to_bgr

__all__ = [
    "DEFAULT_RTSP_LATENCY_MS",
    "Frame",
    "FrameSource",
    "SourceError",
    "_to_bgr",
    "open_source",
    "redact_uri",
    "resolve_uri",
]

_LIVE_SCHEMES = frozenset({"rtsp", "rtsps", "rtspt"})


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
