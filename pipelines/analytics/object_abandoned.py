"""Abandoned object: something appeared and stayed still for T seconds with nobody near it.

No trained class needed (`detectors.static_objects`: a long- and a short-term background); users with
their own weights can require one of `object_labels` (bag, suitcase) on the region too.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import ConfigDict, Field

from detectors.static_objects import StaticObjectsConfig
from events.schema import EventAttributes, Severity
from pipelines.analytics.base import Finding, FrameContext
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin
from pipelines.analytics.static_regions import StaticRegions, near

TYPE: Final = "object_abandoned"


class ObjectAbandonedConfig(RuleBase):
    type: Literal["object_abandoned"]
    severity: Severity = Severity.HIGH
    detector: StaticObjectsConfig = Field(
        default_factory=StaticObjectsConfig, description="T (static_s), sizes, background time constants"
    )
    owner_labels: list[str] = Field(
        default_factory=lambda: ["person", "person_down"], description="who counts as still with it"
    )
    owner_radius_px: float = Field(default=60.0, ge=0, description="an owner this close: not abandoned")
    object_labels: list[str] = Field(
        default_factory=list, description="with your own weights: only regions holding one of these labels"
    )


class ObjectAbandonedAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["object_abandoned"] = TYPE
    still_s: float = Field(ge=0, description="seconds it has been there, still")
    appeared_ts_ms: int = Field(ge=0)
    area_fraction: float = Field(ge=0, le=1)


class ObjectAbandoned:
    def __init__(self, config: ObjectAbandonedConfig) -> None:
        self.rule_id = config.id
        self._config = config
        self._regions = StaticRegions(config.detector)

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        cfg = self._config
        findings = []
        for region in self._regions.new_regions(ctx, "appeared"):
            if near(ctx.detections, cfg.owner_labels, region.xyxy, cfg.owner_radius_px):
                continue  # someone is with it (or it is a person standing still)
            if cfg.object_labels and not near(ctx.detections, cfg.object_labels, region.xyxy, 0.0):
                continue
            attributes = ObjectAbandonedAttributes(
                still_s=round(region.still_s, 1),
                appeared_ts_ms=region.first_seen_ts_ms,
                area_fraction=round(region.area_fraction, 5),
            )
            findings.append(Finding(self.rule_id, TYPE, "object", 1.0, region.xyxy, attributes))
        return findings


def build(config: RuleBase, geometry: CameraGeometry) -> ObjectAbandoned:
    assert isinstance(config, ObjectAbandonedConfig)
    return ObjectAbandoned(config)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Abandoned object", ObjectAbandonedAttributes),
    config=ObjectAbandonedConfig,
    build=build,
)
