"""What every rule type is built from: zones and lines, the common rule settings, and the plugin record.

A rule type is one module in `pipelines/analytics/` that defines its config (a `RuleBase` subclass with
`type: Literal["<name>"]`), its event attributes (an `EventAttributes` subclass with the same `type`)
and a factory, bundled as `PLUGIN = RulePlugin(...)`, and one line in `pipelines/analytics/registry.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HH_MM = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"


def _all_days() -> list[Weekday]:
    return list(WEEKDAYS)


def _seconds_of(hh_mm: str) -> int:
    hours, minutes = hh_mm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def zone_info(name: str) -> ZoneInfo:
    """The IANA time zone `name` (`Asia/Shanghai`, `UTC`); ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name: 'Asia/Shanghai', 'UTC')") from exc


class ArmedWindow(Strict):
    """Armed from `start` to `end` (local wall-clock times) on each of `days`.

    `end` at or before `start` crosses midnight: `fri 22:00-06:00` is armed from Friday 22:00 to
    Saturday 06:00 (the window belongs to the day it starts). `start` is included, `end` is not;
    `00:00-24:00` is the whole day.
    """

    days: list[Weekday] = Field(
        default_factory=_all_days, min_length=1, description="weekdays the window starts on (mon..sun)"
    )
    start: str = Field(pattern=_HH_MM, description="HH:MM, local time, included")
    end: str = Field(pattern=_HH_MM, description="HH:MM, local time, excluded; at or before start = next day")

    @model_validator(mode="after")
    def _not_empty(self) -> ArmedWindow:
        if self.start == "24:00":
            raise ValueError("a window starts at 23:59 at the latest (24:00 is only an end)")
        if self.start == self.end:
            raise ValueError(f"window {self.start}-{self.end} is empty (use 00:00-24:00 for a whole day)")
        return self

    def covers(self, weekday: Weekday, second_of_day: float) -> bool:
        """Whether local time `weekday` + `second_of_day` falls in this window."""
        start_s, end_s = _seconds_of(self.start), _seconds_of(self.end)
        if start_s < end_s:
            return weekday in self.days and start_s <= second_of_day < end_s
        previous_day = WEEKDAYS[(WEEKDAYS.index(weekday) - 1) % 7]
        return (weekday in self.days and second_of_day >= start_s) or (
            previous_day in self.days and second_of_day < end_s
        )


class Schedule(Strict):
    """When a rule is armed, in a time zone. No windows = always armed (the time zone still sets the
    rule's day, e.g. when line-crossing counts restart)."""

    time_zone: str = Field(default="UTC", description="IANA time zone of the windows, e.g. Asia/Shanghai")
    windows: list[ArmedWindow] = Field(
        default_factory=list, description="armed windows; armed when any covers the time; none = always"
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        zone_info(name)
        return name

    @property
    def tz(self) -> ZoneInfo:
        return zone_info(self.time_zone)  # ZoneInfo caches its instances

    def local_time(self, ts_ms: int) -> datetime:
        return datetime.fromtimestamp(ts_ms / 1000, tz=self.tz)

    def armed_at(self, ts_ms: int) -> bool:
        if not self.windows:
            return True
        local = self.local_time(ts_ms)
        weekday = WEEKDAYS[local.weekday()]
        second_of_day = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return any(w.covers(weekday, second_of_day) for w in self.windows)


#: Longest SOP text a rule may carry (characters).
SOP_MAX_CHARS = 4000


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
    min_box_area_px: float = Field(
        default=0.0, ge=0, description="objects whose box is smaller (pixels², analysed frame) are ignored"
    )
    min_box_height_px: float = Field(
        default=0.0, ge=0, description="objects whose box is shorter (pixels, analysed frame) are ignored"
    )
    schedule: Schedule | None = Field(
        default=None, description="armed windows and time zone; none = always armed, days in UTC"
    )
    stationary_px: float = Field(
        default=0.0,
        ge=0,
        description="an object whose box centre moved no more than this (pixels) since the rule's last "
        "event about it does not fire again; 0 = off. Applied by zone_intrusion, loitering and fall; "
        "counting rules (line_crossing, zone_occupancy) and crowd ignore it",
    )
    sop: str = Field(
        default="",
        max_length=SOP_MAX_CHARS,
        description="standard operating procedure shown with the rule's alerts",
    )

    #: Whether the engine applies `stationary_px` to this rule type's findings (false: counting rules).
    stationary_applies: ClassVar[bool] = True
    #: Recognisers (`pipelines.recognition`) whose results the rule reads; the camera runs them.
    recognizers: ClassVar[tuple[str, ...]] = ()

    def zones_used(self) -> list[str]:
        """Ids of the camera's zones this rule needs (checked when the camera is validated)."""
        return []

    def lines_used(self) -> list[str]:
        """Ids of the camera's lines this rule needs."""
        return []

    def day_zone(self, default: str = "UTC") -> ZoneInfo:
        """The time zone of the rule's days: its schedule's, else `default` (the site's)."""
        return self.schedule.tz if self.schedule is not None else zone_info(default)


@dataclass(frozen=True, slots=True)
class CameraGeometry:
    """A camera's zones and lines by id, the frame size the rules work in (pixels), and the site's time
    zone (the days of rules without a schedule; UTC until cameras carry one)."""

    zones: dict[str, ZoneConfig]
    lines: dict[str, LineConfig]
    resolution_wh: tuple[int, int]
    time_zone: str = "UTC"


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
