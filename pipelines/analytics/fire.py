"""Fire: flame colour + flicker + persistence (`detectors.fire_smoke`), once per fire episode.

With user weights that have a fire class, a zone_intrusion-style rule on that label works too; this
rule needs no model: it looks at the pixels (`ctx.frame()`).
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import ConfigDict, Field

from detectors.fire_smoke import FireSettings, FireSmokeConfig, FireSmokeDetector, SmokeSettings
from events.schema import EventAttributes, Severity
from pipelines.analytics.base import Finding, FrameContext
from pipelines.analytics.hazard_episodes import Episode, summarise
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin

TYPE: Final = "fire"


class FireConfig(RuleBase):
    type: Literal["fire"]
    severity: Severity = Severity.CRITICAL
    detector: FireSettings = Field(default_factory=FireSettings, description="flame colour, flicker, K of M")
    process_width_px: int = Field(default=320, ge=32, le=1920, description="frames shrink to this width")
    clear_s: float = Field(default=30.0, ge=0, description="no fire this long ends the episode")


class FireAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["fire"] = TYPE
    area_fraction: float = Field(ge=0, le=1, description="the flames' share of the frame")
    score: float = Field(ge=0, le=1)
    regions: int = Field(ge=1, description="separate fire regions in the frame")
    first_seen_ts_ms: int = Field(ge=0, description="when the flames were first flagged")


class Fire:
    def __init__(self, config: FireConfig) -> None:
        self.rule_id = config.id
        detector_config = FireSmokeConfig(
            process_width_px=config.process_width_px,
            fire=config.detector,
            smoke=SmokeSettings(enabled=False),
        )
        self._detector = FireSmokeDetector(detector_config)
        self._episode = Episode(int(config.clear_s * 1000))

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        if ctx.frame is None:
            return []
        regions = self._detector.update(ctx.frame(), ctx.ts_ms).fire
        if not regions or not self._episode.start(ctx.ts_ms):
            return []
        biggest, fields = summarise(regions)
        attributes = FireAttributes.model_validate(fields)
        return [Finding(self.rule_id, TYPE, "fire", biggest.score, biggest.xyxy, attributes)]


def build(config: RuleBase, geometry: CameraGeometry) -> Fire:
    assert isinstance(config, FireConfig)
    return Fire(config)


PLUGIN = RulePlugin(kind=EventKind(TYPE, "Fire", FireAttributes), config=FireConfig, build=build)
