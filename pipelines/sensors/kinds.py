"""The event types of hazard sensors: `sensor_alarm` (start and end of an episode) and `incident`
(a sensor alarm and a video finding fused), their attributes, and how their events are built.

A sensor event has `camera_id` = the sensor's first linked camera, or `sensor:<id>` when it has none;
the whole frame as bbox, no track, no snapshot, `model` = `sensor:<id>` at the spec's version.
An incident takes the video finding's camera, box, track and snapshot (its evidence).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import ConfigDict, Field

from events.schema import Event, EventAttributes, ModelRef, Severity, make_event_id
from events.sensors import SensorKind, SensorRecord
from pipelines.analytics.spec import EventKind

SENSOR_ALARM: Final = "sensor_alarm"
INCIDENT: Final = "incident"
FUSION_RULE_ID: Final = "fusion"
FUSION_MODEL = ModelRef(name="anfang-fusion", version="1")

RuleType = Literal["threshold", "rate_of_rise", "intensity"]


class SensorAlarmAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["sensor_alarm"] = SENSOR_ALARM
    phase: Literal["start", "end"] = Field(description="start: the condition holds; end: it cleared")
    sensor_id: str
    kind: SensorKind
    value: float = Field(description="the reading that started (or ended) the episode, in `unit`")
    unit: str
    rule: str = Field(description="the sensor rule's id")
    rule_type: RuleType
    threshold: float = Field(
        description="the rule's limit: value (threshold), units per minute (rate_of_rise), degree (intensity)"
    )
    rate_per_min: float | None = Field(default=None, description="rate_of_rise: the rise measured")
    intensity: int | None = Field(default=None, ge=1, le=12, description="seismic: intensity degree")
    intensity_scale: Literal["gb17742", "mmi"] | None = None
    sustained_for_s: float = Field(ge=0, description="how long the condition held before the alarm")
    peak_value: float | None = Field(default=None, description="end: the episode's most extreme reading")
    duration_s: float | None = Field(default=None, ge=0, description="end: seconds from start to end")
    start_event_id: uuid.UUID | None = Field(default=None, description="end: the episode's start event")
    reason: Literal["cleared", "rule_changed"] | None = Field(
        default=None, description="end: why the episode ended"
    )


class IncidentAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["incident"] = INCIDENT
    sensor_event_id: uuid.UUID = Field(description="the sensor_alarm (start) event")
    video_event_id: uuid.UUID = Field(description="the video finding's event")
    sensor_id: str
    sensor_kind: SensorKind
    sensor_rule: str
    video_type: str = Field(description="the video finding's event type")
    zone_id: str | None = Field(default=None, description="the finding's zone, when it names one")
    delta_s: float = Field(description="video finding time minus sensor alarm time, seconds")


SENSOR_KINDS: tuple[EventKind, ...] = (
    EventKind(SENSOR_ALARM, "Sensor alarm", SensorAlarmAttributes),
    EventKind(INCIDENT, "Incident (sensor + video)", IncidentAttributes),
)


def raised(severity: Severity) -> Severity:
    """One step up, capped at critical."""
    order = list(Severity)
    return order[min(len(order) - 1, severity.rank + 1)]


@dataclass(frozen=True, slots=True)
class AlarmContext:
    """What an alarm event needs besides its attributes."""

    record: SensorRecord
    rule_severity: Severity
    alert_severity: Severity
    worker_id: str


def build_alarm_event(ctx: AlarmContext, ts_ms: int, attributes: SensorAlarmAttributes) -> Event:
    spec = ctx.record.spec
    start = attributes.phase == "start"
    severity = ctx.rule_severity if start else Severity.INFO
    rule_id = f"sensor:{spec.id}:{attributes.rule}"
    return Event(
        event_id=make_event_id(spec.event_camera_id, rule_id, None, ts_ms, attributes.phase),
        ts_ms=ts_ms,
        camera_id=spec.event_camera_id,
        site_id=spec.site_id,
        type=SENSOR_ALARM,
        severity=severity,
        alert=start and severity.rank >= ctx.alert_severity.rank,
        rule_id=rule_id,
        track_id=None,
        label=spec.kind.value,
        confidence=1.0,
        bbox_xyxy=(0.0, 0.0, 1.0, 1.0),
        attributes=attributes,
        model=ModelRef(name=f"sensor:{spec.id}", version=str(ctx.record.version)),
        worker_id=ctx.worker_id,
    )


def build_incident_event(alarm: Event, finding: Event, zone_id: str | None, worker_id: str) -> Event:
    """The fusion of a sensor alarm (start) and a video finding: severity one step above the higher."""
    attrs = alarm.attributes
    sensor_id, kind, rule = (getattr(attrs, k) for k in ("sensor_id", "kind", "rule"))
    severity = raised(max(alarm.severity, finding.severity, key=lambda s: s.rank))
    ts_ms = max(alarm.ts_ms, finding.ts_ms)
    attributes = IncidentAttributes(
        sensor_event_id=alarm.event_id,
        video_event_id=finding.event_id,
        sensor_id=str(sensor_id),
        sensor_kind=SensorKind(str(kind)),
        sensor_rule=str(rule),
        video_type=finding.type,
        zone_id=zone_id,
        delta_s=round((finding.ts_ms - alarm.ts_ms) / 1000, 3),
    )
    return Event(
        event_id=make_event_id(
            finding.camera_id, FUSION_RULE_ID, finding.track_id, ts_ms, f"{alarm.event_id}|{finding.event_id}"
        ),
        ts_ms=ts_ms,
        camera_id=finding.camera_id,
        site_id=finding.site_id,
        type=INCIDENT,
        severity=severity,
        alert=True,
        rule_id=FUSION_RULE_ID,
        track_id=finding.track_id,
        label=finding.label,
        confidence=finding.confidence,
        bbox_xyxy=finding.bbox_xyxy,
        attributes=attributes,
        snapshot=finding.snapshot,
        model=FUSION_MODEL,
        worker_id=worker_id,
    )
