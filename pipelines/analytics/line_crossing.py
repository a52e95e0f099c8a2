"""Line crossing with direction: a tracked object's bottom-centre passes from one side to the other.

Direction follows supervision's LineZone: walking along the line from `start_xy` to `end_xy`,
'in' is a crossing from the right-hand side to the left-hand side, 'out' the reverse.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import ConfigDict, Field

from detectors.base import Detections
from events.schema import EventAttributes
from pipelines.analytics.base import Cooldown, Finding, FrameContext, eligible, finding_fields
from pipelines.analytics.spec import CameraGeometry, EventKind, LineConfig, RuleBase, RulePlugin

TYPE: Final = "line_crossing"


def _both_directions() -> list[Literal["in", "out"]]:
    return ["in", "out"]


class LineCrossingConfig(RuleBase):
    type: Literal["line_crossing"]
    line: str = Field(description="id of a line of the same camera")
    directions: list[Literal["in", "out"]] = Field(default_factory=_both_directions)

    def lines_used(self) -> list[str]:
        return [self.line]


class LineCrossingAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["line_crossing"] = TYPE
    line_id: str
    direction: Literal["in", "out"] = Field(
        description="'in' = crossed from the line's right side to its left (start -> end), 'out' the reverse"
    )


class LineCrossing:
    def __init__(
        self,
        rule: LineCrossingConfig,
        line: LineConfig,
        resolution_wh: tuple[int, int],
        min_frames_on_side: int = 1,
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

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        ts_ms = ctx.ts_ms
        watched = eligible(ctx.tracked, self._rule)
        if len(watched) == 0:
            return []
        crossed_in, crossed_out = self._zone.trigger(watched)
        findings: list[Finding] = []
        directions: tuple[tuple[Literal["in", "out"], npt.NDArray[np.bool_]], ...] = (
            ("in", crossed_in),
            ("out", crossed_out),
        )
        for direction, mask in directions:
            if direction not in self._directions:
                continue
            for i in np.flatnonzero(mask):
                findings.extend(self._fire(watched, int(i), direction, ts_ms))
        return findings

    def _fire(
        self, watched: Detections, i: int, direction: Literal["in", "out"], ts_ms: int
    ) -> list[Finding]:
        track_id, label, conf, xyxy = finding_fields(watched, i)
        if not self._cooldown.ready(track_id, ts_ms, direction):
            return []
        self._cooldown.mark(track_id, ts_ms, direction)
        return [
            Finding(
                rule_id=self.rule_id,
                type=TYPE,
                track_id=track_id,
                label=label,
                confidence=conf,
                xyxy=xyxy,
                attributes=LineCrossingAttributes(line_id=self._line_id, direction=direction),
            )
        ]


def build(config: RuleBase, geometry: CameraGeometry) -> LineCrossing:
    assert isinstance(config, LineCrossingConfig)
    return LineCrossing(config, geometry.lines[config.line], geometry.resolution_wh)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Line crossing", LineCrossingAttributes), config=LineCrossingConfig, build=build
)
