"""What every frame source shares: `Frame`, the `Source` protocol, options, `SourceError` and its cause.

A source yields decoded BGR frames with their pts. Files end (iteration stops); live sources end only
by `close()` or a `SourceError`, whose `cause` says why (an `OfflineCause`: unreachable, not_found,
unauthorized, stream_ended, stalled, decode_error) so the supervisor can report and retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from detectors.base import FrameBGR
from events.cameras import OfflineCause

NS_PER_MS = 1_000_000


class SourceError(RuntimeError):
    """A source could not be opened or failed while running; the message names the cause."""

    def __init__(self, message: str, cause: OfflineCause = OfflineCause.DECODE_ERROR) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Frame:
    image_bgr: FrameBGR
    pts_ms: int
    index: int


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to open one source; every limit has a default that suits a live camera."""

    #: decoded frames buffered ahead of the consumer (a live source drops, counted, beyond this)
    queue_max: int = 8
    #: no frame for this long fails the source with cause `stalled` (also bounds opening)
    stall_s: float = 10.0
    #: yield only frames whose pts advanced >= 1/analysis_fps (deterministic, pts-based)
    analysis_fps: float | None = None
    #: RTSP jitter-buffer latency
    rtsp_latency_ms: int = 200
    #: RTSP lower transport
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    #: treat the source as live (EOS = failure, drop when behind); None = from the URI scheme
    live: bool | None = None

    def __post_init__(self) -> None:
        if self.queue_max < 1:
            raise ValueError(f"queue_max must be >= 1, got {self.queue_max}")
        if self.stall_s <= 0:
            raise ValueError(f"stall_s must be > 0, got {self.stall_s}")
        if self.analysis_fps is not None and self.analysis_fps <= 0:
            raise ValueError(f"analysis_fps must be > 0, got {self.analysis_fps}")


class Source(Protocol):
    """An opened, started source: iterate it for frames, close it when done (also usable with `with`)."""

    live: bool
    resolution_wh: tuple[int, int]
    fps: float | None
    frames_decoded: int
    frames_dropped: int

    @property
    def duration_ms(self) -> int | None: ...

    def __iter__(self) -> Iterator[Frame]: ...

    def __next__(self) -> Frame: ...

    def close(self) -> None: ...
