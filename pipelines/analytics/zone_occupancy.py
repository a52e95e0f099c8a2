"""Zone occupancy: an event each time a tracked object enters or leaves a zone, with the count inside.

An object is inside while its box's bottom centre is in the polygon. It leaves when it is seen outside,
or when its track has been lost for more than `lost_s` (the exit then carries its last box). Every
event carries the occupancy after its transition: objects inside per label, an object counted under
the label it had when it entered (a label flickering between classes does not shift the counts).
Transitions are state, not alerts: `cooldown_s` and `stationary_px` do not apply (every enter has its
exit, so the counts stay consistent).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from pydantic import ConfigDict, Field, NonNegativeInt

from events.schema import EventAttributes
from pipelines.analytics.base import (
    XYXY,
    Finding,
    FrameContext,
    inside,
    tracked_rows,
    watched_by,
    zone_in_pixels,
)
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin, ZoneConfig

logger = logging.getLogger(__name__)

TYPE: Final = "zone_occupancy"

Transition = Literal["enter", "exit"]


class ZoneOccupancyConfig(RuleBase):
    type: Literal["zone_occupancy"]
    zone: str = Field(description="id of a zone of the same camera")
    lost_s: float = Field(
        default=2.0, ge=0, description="a track lost for longer than this has left the zone (an exit event)"
    )

    stationary_applies: ClassVar[bool] = False

    def zones_used(self) -> list[str]:
        return [self.zone]


class ZoneOccupancyAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["zone_occupancy"] = TYPE
    zone_id: str
    transition: Transition = Field(description="the object entered or left the zone")
    occupancy: dict[str, NonNegativeInt] = Field(
        description="objects inside the zone per label after this transition (labels with none omitted)"
    )
    lost: bool = Field(default=False, description="exit because the track was lost, not seen leaving")


@dataclass(slots=True)
class _Inside:
    label: str
    confidence: float
    xyxy: XYXY
    last_seen_ms: int


class ZoneOccupancy:
    def __init__(self, rule: ZoneOccupancyConfig, zone: ZoneConfig, resolution_wh: tuple[int, int]) -> None:
        self.rule_id = rule.id
        self._rule = rule
        self._zone_id = zone.id
        self._zone = zone_in_pixels(zone, resolution_wh)
        self._lost_ms = int(rule.lost_s * 1000)
        self._inside: dict[int, _Inside] = {}

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        watched = watched_by(ctx, self._rule)
        in_zone = inside(self._zone, watched)
        seen: dict[int, tuple[bool, str, float, XYXY]] = {}
        for (track_id, label, conf, xyxy), now_inside in zip(
            tracked_rows(watched), in_zone.tolist(), strict=True
        ):
            seen[track_id] = (now_inside, label, conf, xyxy)
        findings: list[Finding] = []
        # Exits first (seen outside, then lost), then enters; each in track-id order.
        for track_id in sorted(self._inside):
            state = self._inside[track_id]
            if track_id in seen and not seen[track_id][0]:
                _, _, conf, xyxy = seen[track_id]
                findings.append(self._transition(track_id, "exit", state.label, conf, xyxy))
            elif track_id not in seen and ctx.ts_ms - state.last_seen_ms > self._lost_ms:
                findings.append(
                    self._transition(track_id, "exit", state.label, state.confidence, state.xyxy, lost=True)
                )
        for track_id, (now_inside, label, conf, xyxy) in sorted(seen.items()):
            if not now_inside:
                continue
            known = self._inside.get(track_id)
            if known is None:
                self._inside[track_id] = _Inside(label, conf, xyxy, ctx.ts_ms)
                findings.append(self._transition(track_id, "enter", label, conf, xyxy))
            else:
                known.confidence, known.xyxy, known.last_seen_ms = conf, xyxy, ctx.ts_ms
        return findings

    def _transition(
        self,
        track_id: int,
        transition: Transition,
        label: str,
        confidence: float,
        xyxy: XYXY,
        lost: bool = False,
    ) -> Finding:
        if transition == "exit":
            del self._inside[track_id]
        occupancy = dict(sorted(Counter(s.label for s in self._inside.values()).items()))
        logger.debug(
            "%s: track %d %s %s, occupancy %s", self.rule_id, track_id, transition, self._zone_id, occupancy
        )
        return Finding(
            rule_id=self.rule_id,
            type=TYPE,
            track_id=track_id,
            label=label,
            confidence=confidence,
            xyxy=xyxy,
            attributes=ZoneOccupancyAttributes(
                zone_id=self._zone_id, transition=transition, occupancy=occupancy, lost=lost
            ),
        )


def build(config: RuleBase, geometry: CameraGeometry) -> ZoneOccupancy:
    assert isinstance(config, ZoneOccupancyConfig)
    return ZoneOccupancy(config, geometry.zones[config.zone], geometry.resolution_wh)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Zone enter/exit", ZoneOccupancyAttributes), config=ZoneOccupancyConfig, build=build
)
