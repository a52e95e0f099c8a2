"""What every analytics rule shares: the `FrameContext` it sees, the `Finding` it emits, the `Rule`
protocol, and small helpers (which detections a rule watches, cooldowns)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

import numpy as np

from detectors.base import Detections, FrameBGR
from events.schema import EventAttributes, Severity
from pipelines.analytics.spec import RuleBase


@dataclass(slots=True)
class FrameContext:
    """What a rule sees of one analysed frame.

    `tracked`: detections with a track id; `detections`: all of them, tracked or not (crowds, hazards);
    `frame()`: the BGR pixels, only when a rule asks (most never do); `resolution_wh` in pixels.
    """

    ts_ms: int
    tracked: Detections
    detections: Detections
    resolution_wh: tuple[int, int]
    frame: Callable[[], FrameBGR] | None = None

    @classmethod
    def of(
        cls, tracked: Detections, ts_ms: int, resolution_wh: tuple[int, int], frame: FrameBGR | None = None
    ) -> FrameContext:
        """A context whose detections are all tracked (tests, simple callers)."""
        return cls(ts_ms, tracked, tracked, resolution_wh, None if frame is None else (lambda: frame))


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule firing on one frame (pixel box; the event builder normalises). A finding about no
    single object (a crowd, a fire, a tampered camera) has no `track_id`; `severity` overrides the
    rule's when the rule grades its findings (an incident, a crowd's end)."""

    rule_id: str
    type: str
    label: str
    confidence: float
    xyxy: tuple[float, float, float, float]
    attributes: EventAttributes
    track_id: int | None = None
    severity: Severity | None = None


class Rule(Protocol):
    rule_id: str

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        """What fired on this frame."""
        ...


def eligible(detections: Detections, rule: RuleBase) -> Detections:
    """The detections a rule watches: its labels, at or above its confidence, with a track id."""
    if len(detections) == 0 or detections.tracker_id is None:
        return cast(Detections, detections[np.zeros(len(detections), dtype=bool)])
    labels = detections.data.get("label")
    mask = np.ones(len(detections), dtype=bool)
    if labels is not None:
        mask &= np.isin(labels, rule.labels)
    if detections.confidence is not None:
        mask &= detections.confidence >= rule.min_confidence
    mask &= detections.tracker_id >= 0
    return cast(Detections, detections[mask])


@dataclass(slots=True)
class Cooldown:
    """At most one firing per key every `cooldown_ms`."""

    cooldown_ms: int
    _last_ms: dict[tuple[int, str], int] = field(default_factory=dict)

    def ready(self, track_id: int, ts_ms: int, key: str = "") -> bool:
        last = self._last_ms.get((track_id, key))
        return last is None or ts_ms - last >= self.cooldown_ms

    def mark(self, track_id: int, ts_ms: int, key: str = "") -> None:
        self._last_ms[(track_id, key)] = ts_ms

    def forget_except(self, live_track_ids: set[int], max_entries: int = 10_000) -> None:
        """Bound the memory on long runs: drop keys of tracks no longer alive once it grows."""
        if len(self._last_ms) > max_entries:
            self._last_ms = {k: v for k, v in self._last_ms.items() if k[0] in live_track_ids}


def finding_fields(
    detections: Detections, i: int
) -> tuple[int, str, float, tuple[float, float, float, float]]:
    """track id, label, confidence and pixel box of detection `i`."""
    assert detections.tracker_id is not None
    labels = detections.data.get("label")
    label = (
        str(labels[i])
        if labels is not None
        else str(detections.class_id[i] if detections.class_id is not None else "")
    )
    conf = float(detections.confidence[i]) if detections.confidence is not None else 1.0
    x1, y1, x2, y2 = (float(v) for v in detections.xyxy[i])
    return int(detections.tracker_id[i]), label, conf, (x1, y1, x2, y2)
