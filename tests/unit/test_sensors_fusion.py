"""Fusion through the sensor hub: a sensor alarm and a video finding on a linked camera (and zone)
within Δt make one `incident` referencing both, one severity step up; nothing when outside Δt, on an
unlinked camera or zone, or for event types not in the list; once per alarm episode."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from events.schema import Event, EventAttributes, ModelRef, Severity, Snapshot, make_event_id
from events.sensors import SensorReading, SensorRecord, SensorSpec
from pipelines.sensors.config import FusionConfig, SensorHubConfig
from pipelines.sensors.hub import SensorHub
from pipelines.sensors.kinds import raised
from tests.unit.publishers import Collect

T0_MS = 1_795_000_000_000
SNAP = Snapshot(uri="snapshots/dock/1.jpg", sha256="ab" * 32)


class Lookup:
    def __init__(self, records: dict[str, SensorRecord]) -> None:
        self.records = records

    def get(self, sensor_id: str) -> SensorRecord | None:
        return self.records.get(sensor_id)


def gas_sensor(**extra: Any) -> SensorRecord:
    spec = {
        "id": "gas-1", "kind": "gas", "unit": "ppm", "camera_ids": ["dock", "yard"],
        "rules": [{"id": "co", "type": "threshold", "limit": 50, "severity": "high"}], **extra,
    }  # fmt: skip
    return SensorRecord(spec=SensorSpec.model_validate(spec), version=1, updated_ts_ms=T0_MS)


def finding(
    t_s: float,
    camera_id: str = "dock",
    event_type: str = "fire",
    zone_id: str | None = None,
    severity: Severity = Severity.HIGH,
) -> Event:
    attrs: dict[str, Any] = {"type": event_type, "area_fraction": 0.04}
    if zone_id is not None:
        attrs["zone_id"] = zone_id
    ts_ms = T0_MS + int(t_s * 1000)
    return Event(
        event_id=make_event_id(camera_id, f"{event_type}-rule", 3, ts_ms),
        ts_ms=ts_ms, camera_id=camera_id, site_id="plant", type=event_type, severity=severity,
        alert=True, rule_id=f"{event_type}-rule", track_id=3, label=event_type, confidence=0.8,
        bbox_xyxy=(0.2, 0.2, 0.5, 0.6), attributes=EventAttributes.model_validate(attrs),
        snapshot=SNAP, model=ModelRef(name="fire", version="1"), worker_id="w-video",
    )  # fmt: skip


def make_hub(record: SensorRecord | None = None, **fusion: Any) -> tuple[SensorHub, Collect]:
    publisher = Collect()
    config = SensorHubConfig(fusion=FusionConfig(window_s=30, late_s=10, **fusion))
    rec = record or gas_sensor()
    return SensorHub(Lookup({rec.sensor_id: rec}), publisher, config, "w-hub"), publisher


def readings(series: Sequence[tuple[float, float]], sensor_id: str = "gas-1") -> list[SensorReading]:
    return [SensorReading(sensor_id, T0_MS + int(t * 1000), v, "ppm") for t, v in series]


def incidents(events: Sequence[Event]) -> list[Event]:
    return [e for e in events if e.type == "incident"]


def test_alarm_then_finding_makes_one_incident_referencing_both() -> None:
    hub, published = make_hub()
    (alarm,) = hub.on_readings(readings([(0, 10), (10, 80)]))
    (incident,) = hub.on_event(finding(25))
    fire = finding(25)
    assert incident.attributes.model_dump(mode="json") == {
        "type": "incident", "sensor_event_id": str(alarm.event_id), "video_event_id": str(fire.event_id),
        "sensor_id": "gas-1", "sensor_kind": "gas", "sensor_rule": "co", "video_type": "fire",
        "zone_id": None, "delta_s": 15.0,
    }  # fmt: skip
    assert (incident.camera_id, incident.site_id, incident.ts_ms, incident.track_id) == (
        "dock",
        "plant",
        fire.ts_ms,
        3,
    )
    assert (incident.severity, incident.alert, incident.snapshot) == (Severity.CRITICAL, True, SNAP)
    assert (incident.bbox_xyxy, incident.model.name, incident.worker_id) == (
        fire.bbox_xyxy,
        "anfang-fusion",
        "w-hub",
    )
    assert hub.on_event(finding(26)) == []  # once per episode
    assert published.events == [alarm, incident]
    assert (hub.stats.alarms, hub.stats.incidents) == (1, 1)


def test_finding_then_alarm_fuses_too() -> None:
    hub, _ = make_hub()
    assert hub.on_event(finding(0, "yard", "smoke")) == []
    events = hub.on_readings(readings([(20, 80)]))
    (incident,) = incidents(events)
    assert (incident.camera_id, incident.attributes.delta_s) == ("yard", -20.0)  # type: ignore[attr-defined]


WINDOW_CASES = [
    pytest.param([(0, 80)], 30.0, True, id="finding 30 s after the start: at the edge of Δt"),
    pytest.param([(0, 80), (5, 10)], 35.0, True, id="30 s after the episode ended"),
    pytest.param([(0, 80), (5, 10)], 35.5, False, id="past Δt after the end"),
    pytest.param([(0, 80)], 300.0, True, id="during a long open episode"),
    pytest.param([(40, 80)], 9.5, False, id="more than Δt before the start"),
]


@pytest.mark.parametrize(("series", "finding_s", "fused"), WINDOW_CASES)
def test_delta_t(series: list[tuple[float, float]], finding_s: float, fused: bool) -> None:
    hub, _ = make_hub()
    if finding_s < series[0][0]:
        out = hub.on_event(finding(finding_s)) + hub.on_readings(readings(series))
    else:
        out = hub.on_readings(readings(series)) + hub.on_event(finding(finding_s))
    assert len(incidents(out)) == (1 if fused else 0)


def test_not_linked_wrong_zone_or_type_never_fuse() -> None:
    hub, _ = make_hub(gas_sensor(zone_ids=["tank-area"]))
    hub.on_readings(readings([(0, 80)]))
    assert hub.on_event(finding(1, camera_id="lobby")) == []  # not a linked camera
    assert hub.on_event(finding(2, event_type="zone_intrusion", zone_id="gate")) == []  # another zone
    assert hub.on_event(finding(3, event_type="line_crossing")) == []  # not a fused type
    assert hub.on_event(finding(4, event_type="camera_offline")) == []
    (incident,) = hub.on_event(finding(5, event_type="zone_intrusion", zone_id="tank-area"))
    assert incident.attributes.zone_id == "tank-area"  # type: ignore[attr-defined]


def test_a_finding_without_a_zone_matches_a_zoned_sensor_on_its_camera() -> None:
    hub, _ = make_hub(gas_sensor(zone_ids=["tank-area"]))
    hub.on_readings(readings([(0, 80)]))
    assert len(hub.on_event(finding(1, event_type="fire"))) == 1


def test_a_sensor_without_cameras_never_fuses() -> None:
    hub, _ = make_hub(gas_sensor(camera_ids=[]))
    (alarm,) = hub.on_readings(readings([(0, 80)]))
    assert alarm.camera_id == "sensor:gas-1"
    assert hub.on_event(finding(1)) == []


def test_each_episode_fuses_once_and_a_new_episode_again() -> None:
    hub, _ = make_hub()
    out = hub.on_readings(readings([(0, 80)])) + hub.on_event(finding(1)) + hub.on_event(finding(2))
    out += hub.on_readings(readings([(3, 10), (100, 90)])) + hub.on_event(finding(101))
    assert [e.attributes.sensor_event_id for e in incidents(out)] == [  # type: ignore[attr-defined]
        out[0].event_id,
        next(e.event_id for e in out if e.type == "sensor_alarm" and e.ts_ms == T0_MS + 100_000),
    ]


def test_configured_types_and_disabled_fusion() -> None:
    hub, _ = make_hub(event_types=("crowd",))
    hub.on_readings(readings([(0, 80)]))
    assert hub.on_event(finding(1, event_type="fire")) == []
    assert len(hub.on_event(finding(2, event_type="crowd"))) == 1
    off, _ = make_hub(enabled=False)
    off.on_readings(readings([(0, 80)]))
    assert off.on_event(finding(1)) == []


def test_old_findings_are_forgotten_by_event_time() -> None:
    hub, _ = make_hub()
    hub.on_event(finding(0))
    hub.on_event(finding(100, camera_id="lobby"))  # the watermark moves 100 s on: Δt 30 + late 10 passed
    assert hub.fusion._findings[0].camera_id == "lobby"
    assert incidents(hub.on_readings(readings([(25, 80)]))) == []


@pytest.mark.parametrize(
    ("video", "sensor", "expected"),
    [
        (Severity.LOW, Severity.MEDIUM, Severity.HIGH),
        (Severity.HIGH, Severity.LOW, Severity.CRITICAL),
        (Severity.CRITICAL, Severity.CRITICAL, Severity.CRITICAL),
        (Severity.INFO, Severity.INFO, Severity.LOW),
    ],
)
def test_severity_is_one_step_above_the_higher_capped(
    video: Severity, sensor: Severity, expected: Severity
) -> None:
    spec = {"rules": [{"id": "co", "type": "threshold", "limit": 50, "severity": sensor.value}]}
    hub, _ = make_hub(gas_sensor(**spec))
    hub.on_readings(readings([(0, 80)]))
    (incident,) = hub.on_event(finding(1, severity=video))
    assert incident.severity == expected
    assert raised(Severity.CRITICAL) == Severity.CRITICAL


def test_incident_ids_are_deterministic() -> None:
    ids = []
    for _ in range(2):
        hub, _ = make_hub()
        hub.on_readings(readings([(0, 80)]))
        ids.append(hub.on_event(finding(3))[0].event_id)
    assert ids[0] == ids[1] and isinstance(ids[0], uuid.UUID)
