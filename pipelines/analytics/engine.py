"""Builds a camera's rules from its config (through the rule plugins) and runs them on each frame."""

from __future__ import annotations

from pipelines.analytics.base import Finding, FrameContext, Rule
from pipelines.analytics.registry import PLUGINS_BY_TYPE
from pipelines.analytics.spec import CameraGeometry, LineConfig, RuleBase, ZoneConfig
from pipelines.config import CameraConfig


class RuleEngine:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    @classmethod
    def build(
        cls,
        rules: list[RuleBase],
        zones: list[ZoneConfig],
        lines: list[LineConfig],
        resolution_wh: tuple[int, int],
    ) -> RuleEngine:
        geometry = CameraGeometry({z.id: z for z in zones}, {ln.id: ln for ln in lines}, resolution_wh)
        return cls([PLUGINS_BY_TYPE[_type_of(cfg)].build(cfg, geometry) for cfg in rules])

    @classmethod
    def for_camera(cls, camera: CameraConfig, resolution_wh: tuple[int, int]) -> RuleEngine:
        return engine_for_camera(camera, resolution_wh)

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        findings: list[Finding] = []
        for rule in self.rules:
            findings.extend(rule.evaluate(ctx))
        return findings


def _type_of(config: RuleBase) -> str:
    kind = getattr(config, "type", None)
    if not isinstance(kind, str):
        raise TypeError(f"rule {config.id!r} has no type")
    return kind


def engine_for_camera(camera: CameraConfig, resolution_wh: tuple[int, int]) -> RuleEngine:
    """The rules of one camera at one frame size."""
    return RuleEngine.build(list(camera.rules), camera.zones, camera.lines, resolution_wh)
