"""Sensor rules, table-driven: threshold (both directions, hysteresis), rate of rise, sustained_for_s,
one alarm per episode with its end; the seismic scales (GB/T 17742-2020, MMI); the spec's validation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import ValidationError

from events.schema import Event, Severity
from events.sensors import SensorReading, SensorRecord, SensorSpec
from pipelines.sensors.rules import SensorRules
from pipelines.sensors.seismic import PGA_TABLE_GAL, intensity, intensity_of_reading

T0_MS = 1_795_000_000_000


def record(
    kind: str = "gas", unit: str = "ppm", rules: Sequence[dict[str, Any]] = (), **extra: Any
) -> SensorRecord:
    spec = SensorSpec.model_validate({"id": "s1", "kind": kind, "unit": unit, "rules": list(rules), **extra})
    return SensorRecord(spec=spec, version=3, updated_ts_ms=T0_MS)


def run(
    rec: SensorRecord, series: Sequence[tuple[float, float]], rules: SensorRules | None = None
) -> list[Event]:
    """Feeds (seconds after T0, value) readings; returns every event."""
    rules = rules or SensorRules("w1")
    out: list[Event] = []
    for t_s, value in series:
        reading = SensorReading(rec.spec.id, T0_MS + int(t_s * 1000), value, rec.spec.unit)
        out.extend(rules.evaluate(rec, reading))
    return out


def summary(events: Sequence[Event]) -> list[tuple[str, float, float]]:
    """(phase, seconds after T0, value) of each event."""
    return [(str(e.attributes.phase), (e.ts_ms - T0_MS) / 1000, float(e.attributes.value)) for e in events]  # type: ignore[attr-defined]


THRESHOLD_CASES = [
    pytest.param(
        {"op": ">=", "limit": 50},
        [(0, 10), (1, 50), (2, 80), (3, 49), (4, 60)],
        [("start", 1, 50), ("end", 3, 49), ("start", 4, 60)],
        id="above: at the limit starts, below ends, a second episode",
    ),
    pytest.param(
        {"op": "<=", "limit": 19.5},
        [(0, 21), (1, 19.5), (2, 18), (3, 19.6)],
        [("start", 1, 19.5), ("end", 3, 19.6)],
        id="below (oxygen %, cold room)",
    ),
    pytest.param(
        {"op": ">=", "limit": 50, "hysteresis": 5},
        [(0, 55), (1, 48), (2, 52), (3, 44.9)],
        [("start", 0, 55), ("end", 3, 44.9)],
        id="hysteresis: no end until 5 below",
    ),
    pytest.param(
        {"op": ">=", "limit": 50, "sustained_for_s": 10},
        [(0, 60), (5, 60), (9.9, 60), (10, 60), (11, 60), (20, 10)],
        [("start", 10, 60), ("end", 20, 10)],
        id="sustained: alarms once it held 10 s",
    ),
    pytest.param(
        {"op": ">=", "limit": 50, "sustained_for_s": 10},
        [(0, 60), (6, 40), (8, 60), (15, 60), (18, 60)],
        [("start", 18, 60)],
        id="sustained: a dip restarts the wait",
    ),
    pytest.param(
        {"op": ">=", "limit": 50},
        [(0, 10), (1, 20)],
        [],
        id="never reached",
    ),
]


@pytest.mark.parametrize(("rule", "series", "expected"), THRESHOLD_CASES)
def test_threshold(rule: dict[str, Any], series: list[tuple[float, float]], expected: list[Any]) -> None:
    events = run(record(rules=[{"id": "r", "type": "threshold", **rule}]), series)
    assert summary(events) == expected


RATE_CASES = [
    pytest.param(
        {"per_min": 10, "window_s": 60, "min_span_s": 5},
        [(0, 20), (10, 21), (20, 22), (30, 30), (40, 35), (50, 36), (110, 36)],
        [("start", 30, 30), ("end", 110, 36)],
        id="20 C to 30 C in 30 s = 20/min alarms; flat for a window ends it",
    ),
    pytest.param(
        {"per_min": 10, "window_s": 60, "min_span_s": 5},
        [(0, 20), (1, 30), (2, 40)],
        [],
        id="no rate before min_span_s (two close readings are noise)",
    ),
    pytest.param(
        {"per_min": 10, "window_s": 60, "min_span_s": 5},
        [(0, 20), (30, 24), (60, 28)],
        [],
        id="8/min is below 10/min",
    ),
    pytest.param(
        {"per_min": 6, "window_s": 60, "min_span_s": 5, "sustained_for_s": 20},
        [(0, 20), (10, 22), (20, 24), (30, 26), (40, 28)],
        [("start", 30, 26)],
        id="sustained rise: 12/min from 10 s on, alarms 20 s later",
    ),
]


@pytest.mark.parametrize(("rule", "series", "expected"), RATE_CASES)
def test_rate_of_rise(rule: dict[str, Any], series: list[tuple[float, float]], expected: list[Any]) -> None:
    rec = record("temperature", "C", rules=[{"id": "rise", "type": "rate_of_rise", **rule}])
    events = run(rec, series)
    assert summary(events) == expected
    for e in events:
        assert e.attributes.rule_type == "rate_of_rise"  # type: ignore[attr-defined]
        assert e.attributes.threshold == rule["per_min"]  # type: ignore[attr-defined]
    if events:
        assert events[0].attributes.rate_per_min >= rule["per_min"]  # type: ignore[attr-defined]


def test_alarm_events_carry_what_an_operator_needs() -> None:
    rec = record(
        rules=[{"id": "co", "type": "threshold", "limit": 50, "severity": "critical"}], camera_ids=["gate"]
    )
    start, end = run(rec, [(0, 80), (1, 90), (2, 70), (3, 10)])
    assert (start.type, start.camera_id, start.site_id, start.severity, start.alert) == (
        "sensor_alarm", "gate", "default-site", Severity.CRITICAL, True,
    )  # fmt: skip
    assert (start.track_id, start.bbox_xyxy, start.model.name, start.model.version) == (
        None, (0.0, 0.0, 1.0, 1.0), "sensor:s1", "3",
    )  # fmt: skip
    assert start.attributes.model_dump(mode="json") == {
        "type": "sensor_alarm", "phase": "start", "sensor_id": "s1", "kind": "gas", "value": 80.0,
        "unit": "ppm", "rule": "co", "rule_type": "threshold", "threshold": 50.0, "rate_per_min": None,
        "intensity": None, "intensity_scale": None, "sustained_for_s": 0.0, "peak_value": None,
        "duration_s": None, "start_event_id": None, "reason": None,
    }  # fmt: skip
    assert (end.severity, end.alert) == (Severity.INFO, False)
    assert end.attributes.model_dump(include={"peak_value", "duration_s", "start_event_id", "reason"}) == {
        "peak_value": 90.0, "duration_s": 3.0, "start_event_id": start.event_id, "reason": "cleared",
    }  # fmt: skip
    assert run(rec, [(0, 80), (1, 90), (2, 70), (3, 10)]) == [start, end]  # deterministic ids: replays dedupe


def test_a_sensor_without_cameras_reports_as_sensor_colon_id() -> None:
    (event,) = run(record(rules=[{"id": "co", "type": "threshold", "limit": 1}]), [(0, 5)])
    assert event.camera_id == "sensor:s1"


def test_late_readings_are_not_evaluated_and_counted() -> None:
    rules = SensorRules("w1")
    rec = record(rules=[{"id": "co", "type": "threshold", "limit": 50}])
    assert summary(run(rec, [(10, 10), (5, 99), (10, 99)], rules)) == []
    assert rules.late == 2


def test_changing_a_rule_ends_its_open_episode() -> None:
    rules = SensorRules("w1")
    before = record(rules=[{"id": "co", "type": "threshold", "limit": 50}])
    after = record(rules=[{"id": "co", "type": "threshold", "limit": 100}])
    assert summary(run(before, [(0, 60)], rules)) == [("start", 0, 60)]
    (end,) = run(after, [(1, 70)], rules)
    assert (end.attributes.phase, end.attributes.reason) == ("end", "rule_changed")  # type: ignore[attr-defined]
    assert rules.active("s1") == []


# --- seismic -----------------------------------------------------------------------------------

SCALE_CASES = [
    # (PGA gal, GB/T 17742-2020 degree, MMI degree): the 2008 table's central values for VI..X,
    # ShakeMap's band edges (0.17 %g, 1.4 %g, 9.2 %g) for MMI
    (0.5, 1, 1),
    (63.0, 6, 5),
    (125.0, 7, 6),
    (250.0, 8, 7),
    (500.0, 9, 8),
    (1000.0, 10, 9),
    (0.18 * 9.80665, 1, 2),
    (1.41 * 9.80665, 4, 4),
    (9.3 * 9.80665, 6, 6),
    (5000.0, 12, 12),
]


@pytest.mark.parametrize(("pga_gal", "cn", "mmi"), SCALE_CASES)
def test_seismic_scales(pga_gal: float, cn: int, mmi: int) -> None:
    assert intensity(pga_gal, "gb17742").degree == cn
    assert intensity(pga_gal, "mmi").degree == mmi


@pytest.mark.parametrize("scale", ["gb17742", "mmi"])
def test_the_table_bounds_are_where_the_degree_changes(scale: Any) -> None:
    table = PGA_TABLE_GAL[scale]
    for degree in range(2, 13):
        assert intensity(table[degree] * 1.001, scale).degree == degree
        assert intensity(table[degree] * 0.999, scale).degree == degree - 1


def test_units_of_a_seismic_reading() -> None:
    assert intensity_of_reading(1.25, "m/s2", "gb17742").degree == 7
    assert intensity_of_reading(6.4, "mmi", "mmi").degree == 6
    assert intensity_of_reading(6.4, "mmi", "mmi").roman == "VI"


def test_intensity_rule_and_intensity_on_every_seismic_alarm() -> None:
    rec = record(
        "seismic",
        "gal",
        rules=[
            {"id": "felt", "type": "intensity", "min_intensity": 6, "severity": "critical"},
            {"id": "raw", "type": "threshold", "limit": 200},
        ],
    )
    events = run(rec, [(0, 10), (1, 90), (2, 260), (3, 20)])
    got = [(e.attributes.rule, e.attributes.phase, e.attributes.intensity) for e in events]  # type: ignore[attr-defined]
    assert got == [("felt", "start", 6), ("raw", "start", 8), ("felt", "end", 4), ("raw", "end", 4)]
    assert {e.attributes.intensity_scale for e in events} == {"gb17742"}  # type: ignore[attr-defined]


# --- the spec ----------------------------------------------------------------------------------

BAD_SPECS = [
    ({"kind": "gas", "unit": "C"}, "not one of gas's units"),
    ({"kind": "temperature", "unit": "K"}, "not one of temperature's units"),
    ({"kind": "seismic", "unit": "g"}, "not one of seismic's units"),
    (
        {"kind": "gas", "unit": "ppm", "rules": [{"id": "x", "type": "intensity", "min_intensity": 5}]},
        "seismic",
    ),
    ({"kind": "seismic", "unit": "mmi"}, "intensity_scale: mmi"),
    ({"kind": "gas", "unit": "ppm", "rules": [{"id": "a", "type": "threshold", "limit": 1}] * 2}, "unique"),
    ({"kind": "gas", "unit": "ppm", "rules": [{"id": "a", "type": "threshold", "limit": "nan"}]}, "finite"),
    ({"kind": "radiation", "unit": "Sv"}, "Input should be"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_SPECS)
def test_bad_specs_are_refused_with_the_cause(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SensorSpec.model_validate({"id": "s1", **fields})


def test_units_per_kind_and_a_generic_sensor() -> None:
    for kind, unit in [("gas", "%LEL"), ("gas", "mg/m3"), ("temperature", "F"), ("seismic", "m/s2")]:
        assert SensorSpec.model_validate({"id": "s", "kind": kind, "unit": unit}).unit == unit
    assert SensorSpec.model_validate({"id": "s", "kind": "generic", "unit": "dB(A)"}).unit == "dB(A)"
