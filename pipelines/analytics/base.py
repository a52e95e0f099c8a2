"""What every analytics rule shares: the `FrameContext` it sees, the `Finding` it emits, the `Rule`
protocol, and small helpers (which detections a rule watches, armed windows, cooldowns, stationary
objects, zones in pixels)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt
import supervision as sv

from detectors.base import Detections, FrameBGR
from events.schema import EventAttributes, Severity
from pipelines.analytics.spec import RuleBase, ZoneConfig
from pipelines.recognition.stage import Recognitions

XYXY = tuple[float, float, float, float]

K = TypeVar("K")


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
    #: per-frame results shared by rules with the same filters (see `watched_by`)
    cache: dict[object, Detections] = field(default_factory=dict)
    #: the recognition stage's results on this frame (faces, plates, codes), when the camera runs it
    recognitions: Recognitions = field(default_factory=Recognitions)

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
    #: a face box (pixels) the evidence snapshot leaves unblurred: the matched watchlist face
    reveal_xyxy: tuple[int, int, int, int] | None = None


class Rule(Protocol):
    rule_id: str

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        """What fired on this frame."""
        ...


def eligible(detections: Detections, rule: RuleBase, *, require_track: bool = True) -> Detections:
    """The detections a rule watches: its labels, at or above its confidence and minimum box size, and
    (unless `require_track` is false: crowds count untracked boxes too) with a track id."""
    if len(detections) == 0 or (require_track and detections.tracker_id is None):
        return cast(Detections, detections[np.zeros(len(detections), dtype=bool)])
    labels = detections.data.get("label")
    mask = np.ones(len(detections), dtype=bool)
    if labels is not None:
        mask &= np.isin(labels, rule.labels)
    if detections.confidence is not None:
        mask &= detections.confidence >= rule.min_confidence
    if rule.min_box_area_px > 0 or rule.min_box_height_px > 0:
        heights = detections.xyxy[:, 3] - detections.xyxy[:, 1]
        areas = heights * (detections.xyxy[:, 2] - detections.xyxy[:, 0])
        mask &= (areas >= rule.min_box_area_px) & (heights >= rule.min_box_height_px)
    if require_track and detections.tracker_id is not None:
        mask &= detections.tracker_id >= 0
    if mask.all():  # the common case: nothing to drop, and selecting costs more than the checks
        return detections
    return cast(Detections, detections[mask])


def watched_by(ctx: FrameContext, rule: RuleBase, *, require_track: bool = True) -> Detections:
    """`eligible` on this frame's tracked (or, without `require_track`, all) detections, computed once
    per frame for every rule with the same labels, confidence and size filters."""
    key = (
        tuple(rule.labels),
        rule.min_confidence,
        rule.min_box_area_px,
        rule.min_box_height_px,
        require_track,
    )
    found = ctx.cache.get(key)
    if found is None:
        source = ctx.tracked if require_track else ctx.detections
        found = ctx.cache[key] = eligible(source, rule, require_track=require_track)
    return found


def armed(rule: RuleBase, ts_ms: int) -> bool:
    """Whether the rule is armed at `ts_ms` (no schedule: always). The engine runs only armed rules."""
    return rule.schedule is None or rule.schedule.armed_at(ts_ms)


def zone_in_pixels(zone: ZoneConfig, resolution_wh: tuple[int, int]) -> sv.PolygonZone:
    """A normalised zone as a supervision polygon in pixels, triggered by a box's bottom centre."""
    w, h = resolution_wh
    polygon_px = np.array([[x * (w - 1), y * (h - 1)] for x, y in zone.polygon_xy], dtype=np.int64)
    return sv.PolygonZone(polygon=polygon_px, triggering_anchors=(sv.Position.BOTTOM_CENTER,))


def inside(zone: sv.PolygonZone, detections: Detections) -> npt.NDArray[np.bool_]:
    """Which detections have their bottom centre inside the zone: `zone.trigger` without its overheads
    (the same rounding and mask lookup, a fraction of the cost; rules call it on every frame)."""
    if len(detections) == 0:
        return np.zeros(0, dtype=bool)
    xyxy = detections.xyxy
    x = np.rint((xyxy[:, 0] + xyxy[:, 2]) / 2).astype(np.int64)
    y = np.rint(xyxy[:, 3]).astype(np.int64)
    mask_h, mask_w = zone.mask.shape
    in_bounds = (x >= 0) & (y >= 0) & (x < mask_w) & (y < mask_h)
    hits = zone.mask[np.clip(y, 0, mask_h - 1), np.clip(x, 0, mask_w - 1)]
    return cast(npt.NDArray[np.bool_], in_bounds & hits.astype(bool))


def zone_box(zone: sv.PolygonZone) -> XYXY:
    """The pixel bounding box of a zone (the box of an event about the zone as a whole)."""
    xs, ys = zone.polygon[:, 0], zone.polygon[:, 1]
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def bottom_centre(xyxy: XYXY) -> tuple[float, float]:
    return (xyxy[0] + xyxy[2]) / 2, xyxy[3]


def box_centre(xyxy: XYXY) -> tuple[float, float]:
    return (xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2


def distance_px(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(np.hypot(a[0] - b[0], a[1] - b[1]))


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


@dataclass(slots=True)
class ReportedOnce(Generic[K]):
    """What a rule reported once (a track, a track and identity, a plate episode): `first` is True the
    first time a key is seen. Memory is bounded: past `max_entries` the oldest half is forgotten."""

    max_entries: int = 10_000
    _keys: dict[K, None] = field(default_factory=dict)

    def first(self, key: K) -> bool:
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self.max_entries:
            self._keys = dict.fromkeys(list(self._keys)[self.max_entries // 2 :])
        return True


@dataclass(slots=True)
class Stationary:
    """Stationary objects never re-alert: a finding about an object whose box centre moved no more than
    `stationary_px` since the last finding let through about it is dropped. Findings without a track
    (crowds, hazards) pass. The engine applies it to rule types whose config has `stationary_applies`."""

    stationary_px: float
    _last_centre: dict[int, tuple[float, float]] = field(default_factory=dict)

    def filter(self, findings: list[Finding], max_entries: int = 10_000) -> list[Finding]:
        kept: list[Finding] = []
        for f in findings:
            if f.track_id is None:
                kept.append(f)
                continue
            centre = box_centre(f.xyxy)
            last = self._last_centre.get(f.track_id)
            if last is not None and distance_px(centre, last) <= self.stationary_px:
                continue
            self._last_centre[f.track_id] = centre
            kept.append(f)
        if len(self._last_centre) > max_entries:  # bound the memory: forget the oldest half
            self._last_centre = dict(list(self._last_centre.items())[max_entries // 2 :])
        return kept


def detection_fields(detections: Detections, i: int) -> tuple[str, float, XYXY]:
    """label, confidence and pixel box of detection `i` (tracked or not)."""
    labels = detections.data.get("label")
    label = (
        str(labels[i])
        if labels is not None
        else str(detections.class_id[i] if detections.class_id is not None else "")
    )
    conf = float(detections.confidence[i]) if detections.confidence is not None else 1.0
    x1, y1, x2, y2 = (float(v) for v in detections.xyxy[i])
    return label, conf, (x1, y1, x2, y2)


def tracked_rows(detections: Detections) -> list[tuple[int, str, float, XYXY]]:
    """`finding_fields` of every tracked detection at once (converted in bulk: rules that look at every
    object each frame stay cheap)."""
    n = len(detections)
    if n == 0 or detections.tracker_id is None:
        return []
    labels = detections.data.get("label")
    label_list = (
        [str(v) for v in np.asarray(labels).tolist()]
        if labels is not None
        else [str(v) for v in (detections.class_id.tolist() if detections.class_id is not None else [""] * n)]
    )
    conf_list = detections.confidence.tolist() if detections.confidence is not None else [1.0] * n
    boxes: list[list[float]] = detections.xyxy.tolist()
    return [
        (int(t), label, float(c), (b[0], b[1], b[2], b[3]))
        for t, label, c, b in zip(detections.tracker_id.tolist(), label_list, conf_list, boxes, strict=True)
    ]


def finding_fields(detections: Detections, i: int) -> tuple[int, str, float, XYXY]:
    """track id, label, confidence and pixel box of detection `i`."""
    assert detections.tracker_id is not None
    label, conf, xyxy = detection_fields(detections, i)
    return int(detections.tracker_id[i]), label, conf, xyxy
