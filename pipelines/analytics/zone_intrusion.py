"""Zone intrusion: a tracked object's bottom-centre stays inside a polygon for `min_dwell_s`; one
event per object per stay (or every `realert_s` while it stays, when set)."""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
from pydantic import ConfigDict, Field

from events.schema import EventAttributes
from pipelines.analytics.base import (
    Cooldown,
    Finding,
    FrameContext,
    finding_fields,
    inside,
    watched_by,
    zone_in_pixels,
)
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin, ZoneConfig

TYPE: Final = "zone_intrusion"


class ZoneIntrusionConfig(RuleBase):
    type: Literal["zone_intrusion"]
    zone: str = Field(description="id of a zone of the same camera")
    min_dwell_s: float = Field(default=0.5, ge=0, description="seconds inside before it fires")
    realert_s: float | None = Field(
        default=None,
        gt=0,
        description="None: one event per object per stay in the zone; a number: again every realert_s "
        "while it stays (a stay ends when the object leaves or is lost; `cooldown_s` still spaces events)",
    )

    def zones_used(self) -> list[str]:
        return [self.zone]


class ZoneIntrusionAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["zone_intrusion"] = TYPE
    zone_id: str
    dwell_s: float = Field(ge=0, description="seconds the object had been inside the zone when it fired")


class ZoneIntrusion:
    def __init__(self, rule: ZoneIntrusionConfig, zone: ZoneConfig, resolution_wh: tuple[int, int]) -> None:
        self.rule_id = rule.id
        self._rule = rule
        self._zone_id = zone.id
        self._zone = zone_in_pixels(zone, resolution_wh)
        self._entered_ms: dict[int, int] = {}
        self._cooldown = Cooldown(int(rule.cooldown_s * 1000))
        self._min_dwell_ms = int(rule.min_dwell_s * 1000)
        self._realert_ms = None if rule.realert_s is None else int(rule.realert_s * 1000)
        self._last_fired_ms: dict[int, int] = {}  # tracks that fired during their current stay

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        ts_ms, detections = ctx.ts_ms, ctx.tracked
        watched = watched_by(ctx, self._rule)
        hits = inside(self._zone, watched)
        findings: list[Finding] = []
        inside_ids: set[int] = set()
        track_ids = watched.tracker_id if watched.tracker_id is not None else np.zeros(0, dtype=int)
        for i in np.flatnonzero(hits):
            track_id = int(track_ids[i])
            inside_ids.add(track_id)
            entered = self._entered_ms.setdefault(track_id, ts_ms)
            dwell_ms = ts_ms - entered
            if dwell_ms < self._min_dwell_ms or not self._cooldown.ready(track_id, ts_ms):
                continue
            fired_ms = self._last_fired_ms.get(track_id)
            if fired_ms is not None and (self._realert_ms is None or ts_ms - fired_ms < self._realert_ms):
                continue  # one event per stay (or per realert_s)
            track_id, label, conf, xyxy = finding_fields(watched, int(i))
            self._cooldown.mark(track_id, ts_ms)
            self._last_fired_ms[track_id] = ts_ms
            findings.append(
                Finding(
                    rule_id=self.rule_id,
                    type=TYPE,
                    track_id=track_id,
                    label=label,
                    confidence=conf,
                    xyxy=xyxy,
                    attributes=ZoneIntrusionAttributes(zone_id=self._zone_id, dwell_s=dwell_ms / 1000),
                )
            )
        # Leaving the zone (or being lost) resets the dwell clock; a re-entry dwells again.
        self._entered_ms = {t: ms for t, ms in self._entered_ms.items() if t in inside_ids}
        self._last_fired_ms = {t: ms for t, ms in self._last_fired_ms.items() if t in inside_ids}
        if detections.tracker_id is not None:
            self._cooldown.forget_except({int(t) for t in detections.tracker_id})
        return findings


def build(config: RuleBase, geometry: CameraGeometry) -> ZoneIntrusion:
    assert isinstance(config, ZoneIntrusionConfig)
    return ZoneIntrusion(config, geometry.zones[config.zone], geometry.resolution_wh)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Zone intrusion", ZoneIntrusionAttributes), config=ZoneIntrusionConfig, build=build
)
