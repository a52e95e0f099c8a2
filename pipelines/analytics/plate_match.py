"""Plate match: a vehicle's voted plate matches a hotlist entry (exact, wildcard, or within the list's
edit distance), once per track episode and entry; severity is the list's."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import ConfigDict, Field

from events.schema import EventAttributes, Severity
from pipelines.analytics.base import Finding, FrameContext, ReportedOnce
from pipelines.analytics.plate_read import PlateRules, plate_box
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin
from pipelines.recognition.plates import DecisionKey, PlateDecision

TYPE: Final = "plate_match"


class PlateMatchConfig(PlateRules):
    type: Literal["plate_match"]
    severity: Severity = Severity.HIGH
    hotlists: list[str] = Field(default_factory=list, description="hotlist ids reported; empty = every list")


class PlateMatchAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["plate_match"] = TYPE
    plate: str
    format: str
    colour: str | None = None
    hotlist_id: str
    hotlist_name: str
    entry_id: str
    pattern: str = Field(description="the entry as normalised")
    distance: int = Field(ge=0, description="edits between the plate and the entry (0 for wildcards)")
    plate_xyxy: tuple[int, int, int, int]


class PlateMatch:
    def __init__(self, config: PlateMatchConfig) -> None:
        self.rule_id = config.id
        self._config = config
        self._reported: ReportedOnce[tuple[DecisionKey, str]] = ReportedOnce()

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        findings = []
        for d in ctx.recognitions.of(PlateDecision):
            if d.match is None or d.hotlist is None:
                continue
            if self._config.hotlists and d.hotlist.hotlist_id not in self._config.hotlists:
                continue
            if not self._reported.first((d.key, d.match.entry_id)):
                continue
            attributes = PlateMatchAttributes(
                plate=d.text,
                format=d.format,
                colour=d.colour,
                hotlist_id=d.hotlist.hotlist_id,
                hotlist_name=d.hotlist.name,
                entry_id=d.match.entry_id,
                pattern=d.match.pattern,
                distance=d.match.distance,
                plate_xyxy=plate_box(d),
            )
            box = d.vehicle_xyxy or d.plate_xyxy
            findings.append(
                Finding(
                    self.rule_id, TYPE, d.label, d.confidence, box, attributes, d.track_id, d.hotlist.severity
                )
            )
        return findings


def build(config: RuleBase, geometry: CameraGeometry) -> PlateMatch:
    assert isinstance(config, PlateMatchConfig)
    return PlateMatch(config)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Plate on a hotlist", PlateMatchAttributes), config=PlateMatchConfig, build=build
)
