"""Smoke: greyish regions that spread and blur what is behind them (`detectors.fire_smoke`), once per
smoke episode. Model-free; looks at the pixels (`ctx.frame()`)."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import ConfigDict, Field

from detectors.fire_smoke import FireSettings, FireSmokeConfig, FireSmokeDetector, SmokeSettings
from events.schema import EventAttributes, Severity
from pipelines.analytics.base import Finding, FrameContext
from pipelines.analytics.hazard_episodes import Episode, summarise
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin

TYPE: Final = "smoke"


class SmokeConfig(RuleBase):
    type: Literal["smoke"]
    severity: Severity = Severity.HIGH
    detector: SmokeSettings = Field(
        default_factory=SmokeSettings, description="greyness, spread, lost detail"
    )
    process_width_px: int = Field(default=320, ge=32, le=1920, description="frames shrink to this width")
    clear_s: float = Field(default=60.0, ge=0, description="no smoke this long ends the episode")


class SmokeAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["smoke"] = TYPE
    area_fraction: float = Field(ge=0, le=1, description="the smoke's share of the frame")
    score: float = Field(ge=0, le=1)
    regions: int = Field(ge=1)
    first_seen_ts_ms: int = Field(ge=0)


class Smoke:
    def __init__(self, config: SmokeConfig) -> None:
        self.rule_id = config.id
        detector_config = FireSmokeConfig(
            process_width_px=config.process_width_px, fire=FireSettings(enabled=False), smoke=config.detector
        )
        self._detector = FireSmokeDetector(detector_config)
        self._episode = Episode(int(config.clear_s * 1000))

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        if ctx.frame is None:
            return []
        regions = self._detector.update(ctx.frame(), ctx.ts_ms).smoke
        if not regions or not self._episode.start(ctx.ts_ms):
            return []
        biggest, fields = summarise(regions)
        attributes = SmokeAttributes.model_validate(fields)
        return [Finding(self.rule_id, TYPE, "smoke", biggest.score, biggest.xyxy, attributes)]


def build(config: RuleBase, geometry: CameraGeometry) -> Smoke:
    assert isinstance(config, SmokeConfig)
    return Smoke(config)


PLUGIN = RulePlugin(kind=EventKind(TYPE, "Smoke", SmokeAttributes), config=SmokeConfig, build=build)
