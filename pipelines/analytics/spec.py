"""What every rule type is built from: zones and lines, the common rule settings, and the plugin record.

A rule type is one module in `pipelines/analytics/` that defines its config (a `RuleBase` subclass with
`type: Literal["<name>"]`), its event attributes (an `EventAttributes` subclass with the same `type`)
and a factory, bundled as `PLUGIN = RulePlugin(...)`, and one line in `pipelines/analytics/registry.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.schema import EventAttributes, Severity

if TYPE_CHECKING:
    from pipelines.analytics.base import Rule

PointXY = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ZoneConfig(Strict):
    id: str = Field(min_length=1)
    polygon_xy: list[PointXY] = Field(min_length=3, description="normalised polygon vertices")


class LineConfig(Strict):
    id: str = Field(min_length=1)
    start_xy: PointXY
    end_xy: PointXY

    @model_validator(mode="after")
    def _not_degenerate(self) -> LineConfig:
        if self.start_xy == self.end_xy:
            raise ValueError("start_xy and end_xy must differ")
        return self


class RuleBase(Strict):
    """Settings every rule has; a rule type adds its own and `type: Literal[...]`."""

    id: str = Field(min_length=1)
    labels: list[str] = Field(
        default_factory=lambda: ["person"], description="object labels the rule watches"
    )
    severity: Severity = Severity.MEDIUM
    alert_severity: Severity = Field(
        default=Severity.MEDIUM, description="events at or above this severity are alerts"
    )
    cooldown_s: float = Field(default=10.0, ge=0, description="min seconds between events of one track")
    min_confidence: float = Field(default=0.0, ge=0, le=1)

    def zones_used(self) -> list[str]:
        """Ids of the camera's zones this rule needs (checked when the camera is validated)."""
        return []

    def lines_used(self) -> list[str]:
        """Ids of the camera's lines this rule needs."""
        return []


@dataclass(frozen=True, slots=True)
class CameraGeometry:
    """A camera's zones and lines by id, and the frame size the rules work in (pixels)."""

    zones: dict[str, ZoneConfig]
    lines: dict[str, LineConfig]
    resolution_wh: tuple[int, int]


@dataclass(frozen=True, slots=True)
class EventKind:
    """An event type: its name, a title for people, and its attributes model."""

    event_type: str
    title: str
    attributes: type[EventAttributes]


@dataclass(frozen=True, slots=True)
class RulePlugin:
    kind: EventKind
    config: type[RuleBase]
    build: Callable[[RuleBase, CameraGeometry], Rule]
