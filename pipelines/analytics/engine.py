"""Builds a camera's rules from its config (through the rule plugins) and runs them on each frame.

What every rule shares is applied here, once: a rule outside its armed windows (`schedule`) is not run
and produces nothing, and starts afresh when a window opens; findings about stationary objects
(`stationary_px`) are dropped for the rule types it applies to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pipelines.analytics.base import Finding, FrameContext, Rule, Stationary, armed
from pipelines.analytics.registry import PLUGINS_BY_TYPE
from pipelines.analytics.spec import CameraGeometry, LineConfig, RuleBase, ZoneConfig
from pipelines.config import CameraConfig

logger = logging.getLogger(__name__)


class ConfiguredRule:
    """One rule of a camera behind the checks every rule shares (armed windows, stationary objects)."""

    def __init__(self, config: RuleBase, build: Callable[[], Rule]) -> None:
        self.rule_id = config.id
        self.config = config
        self._build = build
        self._rule = build()
        self._was_armed = True
        applies = type(config).stationary_applies and config.stationary_px > 0
        self._stationary = Stationary(config.stationary_px) if applies else None

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        if not armed(self.config, ctx.ts_ms):
            if self._was_armed:
                logger.debug("rule %s disarmed at %d", self.rule_id, ctx.ts_ms)
            self._was_armed = False
            return []
        if not self._was_armed:  # a window opens: nothing from before it counts (dwell, crowd, counts)
            logger.debug("rule %s armed at %d", self.rule_id, ctx.ts_ms)
            self._rule = self._build()
            self._was_armed = True
        findings = self._rule.evaluate(ctx)
        return self._stationary.filter(findings) if self._stationary is not None else findings


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
        time_zone: str = "UTC",
    ) -> RuleEngine:
        geometry = CameraGeometry(
            {z.id: z for z in zones}, {ln.id: ln for ln in lines}, resolution_wh, time_zone
        )
        return cls([_configured(cfg, geometry) for cfg in rules])

    @classmethod
    def for_camera(cls, camera: CameraConfig, resolution_wh: tuple[int, int]) -> RuleEngine:
        return engine_for_camera(camera, resolution_wh)

    def reconfigured(
        self, old: CameraConfig, new: CameraConfig, resolution_wh: tuple[int, int]
    ) -> RuleEngine:
        """The engine for the camera's new config. Where its zones, lines and time zone are unchanged, a
        rule whose config is unchanged keeps its state (what it reported, dwell times, counts): adding a
        rule or changing another does not re-report objects in view. Otherwise every rule starts afresh."""
        fresh = engine_for_camera(new, resolution_wh)
        if (old.zones, old.lines, old.time_zone) != (new.zones, new.lines, new.time_zone):
            return fresh
        kept = {r.rule_id: r for r in self.rules if isinstance(r, ConfiguredRule)}
        rules: list[Rule] = []
        for rule in fresh.rules:
            previous = kept.get(getattr(rule, "rule_id", ""))
            same = (
                previous is not None and isinstance(rule, ConfiguredRule) and previous.config == rule.config
            )
            rules.append(previous if same and previous is not None else rule)
        return RuleEngine(rules)

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        findings: list[Finding] = []
        for rule in self.rules:
            findings.extend(rule.evaluate(ctx))
        return findings


def _configured(config: RuleBase, geometry: CameraGeometry) -> ConfiguredRule:
    plugin = PLUGINS_BY_TYPE[_type_of(config)]
    return ConfiguredRule(config, lambda: plugin.build(config, geometry))


def _type_of(config: RuleBase) -> str:
    kind = getattr(config, "type", None)
    if not isinstance(kind, str):
        raise TypeError(f"rule {config.id!r} has no type")
    return kind


def engine_for_camera(camera: CameraConfig, resolution_wh: tuple[int, int]) -> RuleEngine:
    """The rules of one camera at one frame size."""
    return RuleEngine.build(list(camera.rules), camera.zones, camera.lines, resolution_wh, camera.time_zone)
