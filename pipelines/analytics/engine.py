"""Builds a camera's rules from its config and runs them over each frame's tracked detections."""

from __future__ import annotations

from detectors.base import Detections
from pipelines.analytics.base import Finding, Rule
from pipelines.analytics.line import LineCrossing
from pipelines.analytics.zone import ZoneIntrusion
from pipelines.config import CameraConfig, LineCrossingRule, ZoneIntrusionRule


class RuleEngine:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    @classmethod
    def for_camera(cls, camera: CameraConfig, resolution_wh: tuple[int, int]) -> RuleEngine:
        zones = {z.id: z for z in camera.zones}
        lines = {ln.id: ln for ln in camera.lines}
        rules: list[Rule] = []
        for cfg in camera.rules:
            if isinstance(cfg, ZoneIntrusionRule):
                rules.append(ZoneIntrusion(cfg, zones[cfg.zone], resolution_wh))
            elif isinstance(cfg, LineCrossingRule):
                rules.append(LineCrossing(cfg, lines[cfg.line], resolution_wh))
        return cls(rules)

    def evaluate(self, detections: Detections, ts_ms: int) -> list[Finding]:
        findings: list[Finding] = []
        for rule in self.rules:
            findings.extend(rule.evaluate(detections, ts_ms))
        return findings
