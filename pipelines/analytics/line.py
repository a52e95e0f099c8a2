"""Line crossing with direction: a tracked object's bottom-centre passes from one side to the other.

Direction follows supervision's LineZone: walking along the line from `start_xy` to `end_xy`,
'in' is a crossing from the right-hand side to the left-hand side, 'out' the reverse.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import supervision as sv

from detectors.base import Detections
from events.schema import EventType, LineCrossingAttributes
from pipelines.analytics.base import Cooldown, Finding, eligible, finding_fields
from pipelines.config import LineConfig, LineCrossingRule


class LineCrossing:
    def __init__(
        self,
        rule: LineCrossingRule,
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

    def evaluate(self, detections: Detections, ts_ms: int) -> list[Finding]:
        watched = eligible(detections, self._rule)
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
                type=EventType.LINE_CROSSING,
                track_id=track_id,
                label=label,
                confidence=conf,
                xyxy=xyxy,
                attributes=LineCrossingAttributes(line_id=self._line_id, direction=direction),
            )
        ]
