"""Crowd gathering: at least `min_count` objects in a zone for `min_duration_s` → one `crowd` start
event; when it disperses, one end event with its duration and peak. No event per frame.

Objects are counted from all the frame's detections, tracked or not (a crowd's members are often too
close together to track), by their box's bottom centre. A dip below `min_count` shorter than
`disperse_s` is noise (a missed detection): it neither restarts the forming clock nor ends the crowd.
The crowd has formed at the first frame of the run that reached `min_count`, and dispersed at the first
frame of the run below it that lasted `disperse_s`; the end event comes at the end of that run, its
`duration_s` from formed to dispersed. Start events have the rule's severity, end events
`end_severity` (info by default, so not an alert). A window closing mid-crowd sends no end event.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import ClassVar, Final, Literal

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, Field

from detectors.base import Detections
from events.schema import EventAttributes, Severity
from pipelines.analytics.base import (
    XYXY,
    Finding,
    FrameContext,
    detection_fields,
    inside,
    watched_by,
    zone_box,
    zone_in_pixels,
)
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin, ZoneConfig

logger = logging.getLogger(__name__)

TYPE: Final = "crowd"

Phase = Literal["start", "end"]


class CrowdConfig(RuleBase):
    type: Literal["crowd"]
    zone: str = Field(description="id of a zone of the same camera")
    min_count: int = Field(default=5, ge=2, description="objects inside the zone that make a crowd")
    min_duration_s: float = Field(default=10.0, ge=0, description="seconds the crowd lasts before it is one")
    disperse_s: float = Field(
        default=5.0, ge=0, description="seconds below min_count after which the crowd has dispersed"
    )
    end_severity: Severity = Field(default=Severity.INFO, description="severity of the end event")

    stationary_applies: ClassVar[bool] = False

    def zones_used(self) -> list[str]:
        return [self.zone]


class CrowdAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["crowd"] = TYPE
    zone_id: str
    phase: Phase = Field(description="start: the crowd has lasted min_duration_s; end: it has dispersed")
    count: int = Field(ge=0, description="objects inside the zone on this frame")
    peak_count: int = Field(ge=0, description="most objects inside at once since the crowd formed")
    duration_s: float = Field(ge=0, description="seconds since the crowd formed (end: until it dispersed)")


class Crowd:
    def __init__(self, rule: CrowdConfig, zone: ZoneConfig, resolution_wh: tuple[int, int]) -> None:
        self.rule_id = rule.id
        self._rule = rule
        self._zone_id = zone.id
        self._zone = zone_in_pixels(zone, resolution_wh)
        self._min_duration_ms = int(rule.min_duration_s * 1000)
        self._disperse_ms = int(rule.disperse_s * 1000)
        self._formed_ms: int | None = None  # first frame of the run that reached min_count
        self._below_ms: int | None = None  # first frame of the current run below min_count
        self._peak = 0
        self._started = False

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        ts_ms = ctx.ts_ms
        watched = watched_by(ctx, self._rule, require_track=False)
        members = np.flatnonzero(inside(self._zone, watched))
        count = len(members)
        if count >= self._rule.min_count:
            self._below_ms = None
            if self._formed_ms is None:
                self._formed_ms, self._peak = ts_ms, 0
            self._peak = max(self._peak, count)
            if not self._started and ts_ms - self._formed_ms >= self._min_duration_ms:
                self._started = True
                return [self._finding("start", count, ts_ms - self._formed_ms, watched, members)]
            return []
        if self._formed_ms is None:
            return []
        if self._below_ms is None:
            self._below_ms = ts_ms
        if ts_ms - self._below_ms < self._disperse_ms:
            return []
        formed_ms, dispersed_ms, started = self._formed_ms, self._below_ms, self._started
        self._formed_ms, self._below_ms, self._started = None, None, False
        if not started:  # it never lasted: not a crowd
            return []
        return [self._finding("end", count, dispersed_ms - formed_ms, watched, members)]

    def _finding(
        self, phase: Phase, count: int, duration_ms: int, watched: Detections, members: npt.NDArray[np.intp]
    ) -> Finding:
        labels: Counter[str] = Counter()
        confidences: list[float] = []
        boxes: list[XYXY] = []
        for i in members:
            label, conf, xyxy = detection_fields(watched, int(i))
            labels[label] += 1
            confidences.append(conf)
            boxes.append(xyxy)
        logger.debug(
            "%s: crowd %s in %s, %d inside, peak %d", self.rule_id, phase, self._zone_id, count, self._peak
        )
        return Finding(
            rule_id=self.rule_id,
            type=TYPE,
            label=labels.most_common(1)[0][0] if labels else TYPE,
            confidence=float(np.mean(confidences)) if confidences else 1.0,
            xyxy=_union(boxes) if boxes else zone_box(self._zone),
            attributes=CrowdAttributes(
                zone_id=self._zone_id,
                phase=phase,
                count=count,
                peak_count=self._peak,
                duration_s=duration_ms / 1000,
            ),
            track_id=None,
            severity=self._rule.end_severity if phase == "end" else None,
        )


def _union(boxes: list[XYXY]) -> XYXY:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def build(config: RuleBase, geometry: CameraGeometry) -> Crowd:
    assert isinstance(config, CrowdConfig)
    return Crowd(config, geometry.zones[config.zone], geometry.resolution_wh)


PLUGIN = RulePlugin(kind=EventKind(TYPE, "Crowd", CrowdAttributes), config=CrowdConfig, build=build)
