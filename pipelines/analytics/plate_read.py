"""Plate read: a vehicle's (or a region episode's) plate as voted over its reads, once per track
episode; stored for search (`plate=` in the history). A camera without this rule reads plates only
for its hotlist rule, and keeps no reads."""

from __future__ import annotations

from typing import Annotated, ClassVar, Final, Literal

from pydantic import ConfigDict, Field

from events.schema import EventAttributes, Severity
from pipelines.analytics.base import Finding, FrameContext, ReportedOnce
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin
from pipelines.recognition.plates import DecisionKey, PlateDecision

TYPE: Final = "plate_read"
VEHICLES = ["car", "truck", "bus", "motorcycle"]
Unit = Annotated[float, Field(ge=0, le=1)]
RegionXYXY = tuple[Unit, Unit, Unit, Unit]


class PlateRules(RuleBase):
    """What the plate rules share: the vehicles read, or regions read (normalised boxes)."""

    labels: list[str] = Field(default_factory=lambda: list(VEHICLES), description="vehicle labels read")
    regions_xyxy: list[RegionXYXY] = Field(
        default_factory=list,
        description="normalised boxes read whatever the detector sees (a gate lane; the whole frame is "
        "[0, 0, 1, 1]); for detectors without vehicle classes",
    )

    recognizers: ClassVar[tuple[str, ...]] = ("plate",)


class PlateReadConfig(PlateRules):
    type: Literal["plate_read"]
    severity: Severity = Severity.INFO


class PlateReadAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["plate_read"] = TYPE
    plate: str = Field(description="canonical text, e.g. 京A12345")
    format: str = Field(description="ordinary, new_energy, police, ...")
    colour: str | None = None
    reads: int = Field(ge=1, description="reads that voted for this text")
    plate_xyxy: tuple[int, int, int, int]


def plate_box(d: PlateDecision) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = d.plate_xyxy
    return int(x1), int(y1), int(x2), int(y2)


class PlateRead:
    def __init__(self, config: PlateReadConfig) -> None:
        self.rule_id = config.id
        self._reported: ReportedOnce[DecisionKey] = ReportedOnce()

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        findings = []
        for d in ctx.recognitions.of(PlateDecision):
            if not self._reported.first(d.key):
                continue
            attributes = PlateReadAttributes(
                plate=d.text, format=d.format, colour=d.colour, reads=d.reads, plate_xyxy=plate_box(d)
            )
            box = d.vehicle_xyxy or d.plate_xyxy
            findings.append(Finding(self.rule_id, TYPE, d.label, d.confidence, box, attributes, d.track_id))
        return findings


def build(config: RuleBase, geometry: CameraGeometry) -> PlateRead:
    assert isinstance(config, PlateReadConfig)
    return PlateRead(config)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Plate read", PlateReadAttributes), config=PlateReadConfig, build=build
)
