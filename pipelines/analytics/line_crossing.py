"""Line crossing with direction: a tracked object's bottom-centre passes from one side to the other.

Direction follows supervision's LineZone: walking along the line from `start_xy` to `end_xy`,
'in' is a crossing from the right-hand side to the left-hand side, 'out' the reverse.

Counts: every event carries `count_in` / `count_out`, the crossings per direction since the start of
the day (midnight in the rule's schedule's time zone, else the site's, else UTC), this one included.
A crossing counts once it passes the cooldown (a track dithering on the line counts once per
`cooldown_s` and direction), whether or not its direction is in `directions`; the counts cover the
rule's armed time (a rule with windows starts counting afresh when a window opens).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Final, Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import ConfigDict, Field

from detectors.base import Detections
from events.schema import EventAttributes
from pipelines.analytics.base import Cooldown, Finding, FrameContext, finding_fields, watched_by
from pipelines.analytics.spec import CameraGeometry, EventKind, LineConfig, RuleBase, RulePlugin

TYPE: Final = "line_crossing"


def _both_directions() -> list[Literal["in", "out"]]:
    return ["in", "out"]


class LineCrossingConfig(RuleBase):
    type: Literal["line_crossing"]
    line: str = Field(description="id of a line of the same camera")
    directions: list[Literal["in", "out"]] = Field(
        default_factory=_both_directions, description="directions that raise events (both are counted)"
    )

    stationary_applies: ClassVar[bool] = False  # crossing is moving; suppressing would skew counts

    def lines_used(self) -> list[str]:
        return [self.line]


class LineCrossingAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["line_crossing"] = TYPE
    line_id: str
    direction: Literal["in", "out"] = Field(
        description="'in' = crossed from the line's right side to its left (start -> end), 'out' the reverse"
    )
    count_in: int | None = Field(
        default=None, ge=0, description="'in' crossings since the start of the day (site time zone)"
    )
    count_out: int | None = Field(
        default=None, ge=0, description="'out' crossings since the start of the day (site time zone)"
    )


class LineCrossing:
    def __init__(
        self,
        rule: LineCrossingConfig,
        line: LineConfig,
        resolution_wh: tuple[int, int],
        min_frames_on_side: int = 1,
        time_zone: ZoneInfo | None = None,
    ) -> None:
        self.rule_id = rule.id
        self._rule = rule
        self._line_id = line.id
        w, h = resolution_wh
        start = sv.Point(x=line.start_xy[0] * (w - 1), y=line.start_xy[1] * (h - 1))
        end = sv.Point(x=line.end_xy[0] * (w - 1), y=line.end_xy[1] * (h - 1))
        self._zone = sv.LineZone(
            start=start,
            end=end,
            triggering_anchors=(sv.Position.BOTTOM_CENTER,),
            minimum_crossing_threshold=min_frames_on_side,
        )
        self._directions = set(rule.directions)
        self._cooldown = Cooldown(int(rule.cooldown_s * 1000))
        self._tz = time_zone or rule.day_zone()
        self._day: date | None = None
        self._counts: dict[Literal["in", "out"], int] = {"in": 0, "out": 0}

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        ts_ms = ctx.ts_ms
        watched = watched_by(ctx, self._rule)
        if len(watched) == 0:
            return []
        crossed_in, crossed_out = self._zone.trigger(watched)
        findings: list[Finding] = []
        directions: tuple[tuple[Literal["in", "out"], npt.NDArray[np.bool_]], ...] = (
            ("in", crossed_in),
            ("out", crossed_out),
        )
        for direction, mask in directions:
            for i in np.flatnonzero(mask):
                findings.extend(self._cross(watched, int(i), direction, ts_ms))
        return findings

    def _cross(
        self, watched: Detections, i: int, direction: Literal["in", "out"], ts_ms: int
    ) -> list[Finding]:
        track_id, label, conf, xyxy = finding_fields(watched, i)
        if not self._cooldown.ready(track_id, ts_ms, direction):
            return []
        self._cooldown.mark(track_id, ts_ms, direction)
        day = datetime.fromtimestamp(ts_ms / 1000, tz=self._tz).date()
        if day != self._day:
            self._day, self._counts = day, {"in": 0, "out": 0}
        self._counts[direction] += 1
        if direction not in self._directions:
            return []
        attributes = LineCrossingAttributes(
            line_id=self._line_id,
            direction=direction,
            count_in=self._counts["in"],
            count_out=self._counts["out"],
        )
        return [
            Finding(
                rule_id=self.rule_id,
                type=TYPE,
                track_id=track_id,
                label=label,
                confidence=conf,
                xyxy=xyxy,
                attributes=attributes,
            )
        ]


def build(config: RuleBase, geometry: CameraGeometry) -> LineCrossing:
    assert isinstance(config, LineCrossingConfig)
    return LineCrossing(
        config,
        geometry.lines[config.line],
        geometry.resolution_wh,
        time_zone=config.day_zone(geometry.time_zone),
    )


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Line crossing", LineCrossingAttributes), config=LineCrossingConfig, build=build
)
