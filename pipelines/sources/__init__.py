"""Frame sources: one `Source` protocol, GStreamer behind it (files, RTSP, HTTP, V4L2).

`open_source(uri, options)` resolves the URI, builds the GStreamer pipeline and returns once the first
frame is decoded (or raises `SourceError` with a `cause`). Supported:

| URI | what | live |
|---|---|---|
| a path, `file://` | a video file, decoded completely and in order | no |
| `rtsp://`, `rtsps://`, `rtspt://` | an RTSP camera over TCP (`rtsp_transport: udp` per camera) | yes |
| `http://`, `https://` | MJPEG, HLS or progressive MP4 over HTTP (uridecodebin) | yes |
| `v4l2:///dev/videoN` | a local capture device | yes |

A live source discards (and counts) frames while the consumer is `queue_max` frames behind, and its
end of stream is a failure (`stream_ended`). GStreamer is imported only when a source is opened.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from events.cameras import OfflineCause, redact_uri
from pipelines.sources.base import Frame, Source, SourceError, SourceOptions
from pipelines.sources.gstreamer import GstSource

__all__ = ["Frame", "Source", "SourceError", "SourceOptions", "open_source", "resolve_uri"]

_LIVE_SCHEMES = frozenset({"rtsp", "rtsps", "rtspt", "http", "https", "v4l2"})


def resolve_uri(uri: str) -> tuple[str, bool]:
    """`(gstreamer_uri, is_live)` for a path or a supported URI; SourceError (with a cause) when unusable."""
    scheme = urllib.parse.urlsplit(uri).scheme.lower() if "://" in uri else ""
    if scheme in _LIVE_SCHEMES:
        if scheme == "v4l2":
            device = Path(urllib.parse.urlsplit(uri).path or "/dev/video0")
            if not device.exists():
                raise SourceError(f"capture device not found: {device}", OfflineCause.NOT_FOUND)
        elif not urllib.parse.urlsplit(uri).hostname:
            raise SourceError(f"no host in {redact_uri(uri)}", OfflineCause.NOT_FOUND)
        return uri, True
    if scheme not in ("", "file"):
        raise SourceError(
            f"unsupported source URI scheme {scheme!r} in {redact_uri(uri)} "
            "(use a path, file://, rtsp://, rtsps://, http(s):// or v4l2://)",
            OfflineCause.NOT_FOUND,
        )
    path = Path(urllib.parse.unquote(urllib.parse.urlsplit(uri).path)) if scheme else Path(uri)
    if not path.exists():
        raise SourceError(f"video not found: {path}", OfflineCause.NOT_FOUND)
    if not path.is_file():
        raise SourceError(f"video is not a file: {path}", OfflineCause.NOT_FOUND)
    return path.resolve().as_uri(), False


def open_source(uri: str, options: SourceOptions | None = None) -> GstSource:
    """Open and start decoding; returns once the first frame is decoded (or raises SourceError).

    Iterating ends at a file's end; a live source ends only by `close()` or a SourceError.
    """
    options = options or SourceOptions()
    gst_uri, live = resolve_uri(uri)
    source = GstSource(gst_uri, live=live if options.live is None else options.live, options=options)
    try:
        source.start()
    except BaseException:
        source.close()
        raise
    return source
