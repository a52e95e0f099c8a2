"""Removed object: a part of the reference scene went missing and stayed missing for T seconds."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import ConfigDict, Field

from detectors.static_objects import StaticObjectsConfig
from events.schema import EventAttributes, Severity
from pipelines.analytics.base import Finding, FrameContext
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin
from pipelines.analytics.static_regions import StaticRegions

TYPE: Final = "object_removed"


class ObjectRemovedConfig(RuleBase):
    type: Literal["object_removed"]
    severity: Severity = Severity.HIGH
    detector: StaticObjectsConfig = Field(
        default_factory=StaticObjectsConfig, description="T (static_s), sizes, background time constants"
    )


class ObjectRemovedAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["object_removed"] = TYPE
    missing_s: float = Field(ge=0, description="seconds it has been missing")
    removed_ts_ms: int = Field(ge=0)
    area_fraction: float = Field(ge=0, le=1)


class ObjectRemoved:
    def __init__(self, config: ObjectRemovedConfig) -> None:
        self.rule_id = config.id
        self._regions = StaticRegions(config.detector)

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        findings = []
        for region in self._regions.new_regions(ctx, "disappeared"):
            attributes = ObjectRemovedAttributes(
                missing_s=round(region.still_s, 1),
                removed_ts_ms=region.first_seen_ts_ms,
                area_fraction=round(region.area_fraction, 5),
            )
            findings.append(Finding(self.rule_id, TYPE, "object", 1.0, region.xyxy, attributes))
        return findings


def build(config: RuleBase, geometry: CameraGeometry) -> ObjectRemoved:
    assert isinstance(config, ObjectRemovedConfig)
    return ObjectRemoved(config)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Removed object", ObjectRemovedAttributes), config=ObjectRemovedConfig, build=build
)
