"""GStreamer helpers of the frame source: import, pad linking, error causes, buffer copy, pts repair.

GStreamer (gi) is imported only inside `import_gst()`, never when this module is imported. The rest is
plain Python/numpy: classifying an error into an `OfflineCause`, the mapped-buffer -> BGR array copy
and pts repair.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from detectors.base import FrameBGR
from events.cameras import OfflineCause
from pipelines.sources.base import NS_PER_MS

#: Words in a GStreamer error (message + debug text) and the cause they mean, first match wins.
_CAUSE_WORDS: tuple[tuple[tuple[str, ...], OfflineCause], ...] = (
    (("401", "unauthorized", "not authorized", "authentication"), OfflineCause.UNAUTHORIZED),
    (("404", "not found", "no such file", "does not exist"), OfflineCause.NOT_FOUND),
    (
        (
            "connection refused",
            "could not connect",
            "failed to connect",
            "could not open resource",
            "could not resolve",
            "no route to host",
            "network is unreachable",
            "timed out",
            "timeout",
            "connection reset",
            "service unavailable",
            "could not receive",
            "could not send",
            "could not read",
            "could not write",
        ),
        OfflineCause.UNREACHABLE,
    ),
)


def classify_error(text: str) -> OfflineCause:
    """The `OfflineCause` of a GStreamer error message (plus its debug text); decode_error if unknown."""
    lowered = text.lower()
    for words, cause in _CAUSE_WORDS:
        if any(w in lowered for w in words):
            return cause
    return OfflineCause.DECODE_ERROR


#: Serialises GStreamer's first initialisation: cameras opened at once from several threads would
#: otherwise race it (element factories not yet registered: `ElementFactory.make` returns None).
_INIT_LOCK = threading.Lock()


def import_gst() -> tuple[Any, Any, Any]:
    """`(Gst, GstApp, GstVideo)`, importing and initialising GStreamer on first use (thread-safe)."""
    with _INIT_LOCK:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstApp", "1.0")
        gi.require_version("GstVideo", "1.0")
        from gi.repository import Gst, GstApp, GstVideo

        if not Gst.is_initialized():
            Gst.init(None)
        for name in ("uridecodebin", "videoconvert", "capsfilter", "appsink"):
            Gst.ElementFactory.find(name)  # load the plugins once, here, not in racing threads
    return Gst, GstApp, GstVideo


def link_video_pad(_decode: Any, pad: Any, convert: Any) -> None:
    """uridecodebin "pad-added" handler: link the first video pad to `convert`'s sink."""
    caps = pad.get_current_caps() or pad.query_caps(None)
    sink = convert.get_static_pad("sink")
    if caps.to_string().startswith("video/") and not sink.is_linked():
        pad.link(sink)


def repair_pts_ns(pts_ns: int | None, last_ns: int | None, fps: float | None) -> tuple[int, bool]:
    """`(pts_ns, repaired)`: the pts, or last + one frame period when missing (None) or not increasing.

    AVI files with packed B-frames (e.g. Megamind.avi) come out of the decoder with repeated pts. The
    first frame without a pts gets 0; without a known fps the period is 1 ms.
    """
    if pts_ns is not None and (last_ns is None or pts_ns > last_ns):
        return pts_ns, False
    if last_ns is None:
        return 0, False
    period_ns = round(1e9 / fps) if fps else NS_PER_MS
    return last_ns + period_ns, True


def to_bgr(data: Any, width: int, height: int, stride: int) -> FrameBGR:
    """Copy a mapped BGR buffer (rows possibly padded to `stride` bytes) into an H x W x 3 array."""
    row_bytes = width * 3
    flat = np.frombuffer(data, dtype=np.uint8, count=stride * (height - 1) + row_bytes)
    if stride == row_bytes:
        return flat.reshape(height, width, 3).copy()
    rows = np.lib.stride_tricks.as_strided(flat, shape=(height, width, 3), strides=(stride, 3, 1))
    return rows.copy()  # always a copy: the mapped buffer goes back to GStreamer
