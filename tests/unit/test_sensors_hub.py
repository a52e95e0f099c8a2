"""The hub's two runtimes without a broker: the distributed round (fake consumers: refused messages
dead-lettered with the reason, the rate limit for direct producers, store then evaluate then commit)
and the embedded one (tee of the pipeline's publisher, a full queue drops and counts); the registry
over the file backend, seeding from the YAML."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from anfang.wiring import seed_sensors
from events.ports import ConsumedBatch, DeadLetter
from events.registry.file_registry import FileCameraRegistry
from events.schema import Event, EventAttributes, ModelRef, Severity, make_event_id
from events.sensors import (
    ORIGIN_API,
    ReadingBatch,
    ReadingMessage,
    ReadingQuery,
    SensorReading,
    SensorRegistry,
    SensorSpec,
)
from pipelines.config import load_config
from pipelines.sensors.config import SensorHubConfig
from pipelines.sensors.hub import EmbeddedSensorHub, SensorHub
from pipelines.sensors.runner import SensorRound, run_sensor_hub

NOW_MS = 1_795_000_000_000
GAS = {
    "id": "gas-1", "kind": "gas", "unit": "ppm", "camera_ids": ["dock"],
    "rules": [{"id": "co", "type": "threshold", "limit": 50}],
}  # fmt: skip


class Published:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.flushes = 0

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def flush(self, timeout_s: float = 30.0) -> None:
        self.flushes += 1

    def close(self) -> None:
        pass


class Readings:
    def __init__(self) -> None:
        self.rows: list[SensorReading] = []

    def insert_readings(self, readings: Sequence[SensorReading]) -> int:
        self.rows.extend(readings)
        return len(readings)

    def query_readings(self, q: ReadingQuery) -> list[SensorReading]:
        return [r for r in self.rows if r.sensor_id == q.sensor_id]


class FakeReadingConsumer:
    def __init__(self, batches: list[ReadingBatch]) -> None:
        self.batches = batches
        self.commits = 0

    def poll(self, timeout_s: float, max_records: int) -> ReadingBatch:
        return self.batches.pop(0) if self.batches else ReadingBatch([], [])

    def commit(self) -> None:
        self.commits += 1

    def close(self) -> None:
        pass


class FakeEventConsumer:
    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.commits = 0

    def poll(self, timeout_s: float, max_records: int) -> ConsumedBatch:
        out, self.events = self.events, []
        return ConsumedBatch(out, [])

    def commit(self) -> None:
        self.commits += 1

    def close(self) -> None:
        pass


def message(payload: Any, sensor_id: str = "gas-1", origin: str = "") -> ReadingMessage:
    raw = json.dumps(payload).encode()
    return ReadingMessage(sensor_id, payload, origin, raw, "anfang.sensors partition 0 offset 7")


def reading(dt_s: float, value: float, unit: str = "ppm") -> dict[str, Any]:
    return {"ts_ms": NOW_MS + int(dt_s * 1000), "value": value, "unit": unit}


def fire(ts_ms: int) -> Event:
    return Event(
        event_id=make_event_id("dock", "fire", None, ts_ms), ts_ms=ts_ms, camera_id="dock", site_id="plant",
        type="fire", severity=Severity.HIGH, alert=True, rule_id="fire", label="fire", confidence=0.9,
        bbox_xyxy=(0, 0, 0.5, 0.5), attributes=EventAttributes(type="fire"),
        model=ModelRef(name="f", version="1"), worker_id="w",
    )  # fmt: skip


@pytest.fixture
def registry(tmp_path: Path) -> SensorRegistry:
    reg = SensorRegistry(FileCameraRegistry(tmp_path / "sensors.json"))
    reg.put(SensorSpec.model_validate(GAS))
    return reg


def make_round(
    registry: SensorRegistry, batches: list[ReadingBatch], events: Sequence[Event] = (), **ingest: Any
) -> tuple[SensorRound, Published, Readings, list[DeadLetter]]:
    published, readings = Published(), Readings()
    dead: list[DeadLetter] = []
    config = SensorHubConfig.model_validate({"ingest": {"rate_per_s": 1, "burst": 1000, **ingest}})
    hub = SensorHub(registry, published, config, "w")
    rounds = SensorRound(
        hub,
        FakeReadingConsumer(batches),
        readings,
        events=FakeEventConsumer(list(events)),
        dead_letters=dead.extend,
        now_ms=lambda: NOW_MS,
    )
    return rounds, published, readings, dead


def test_a_round_stores_evaluates_fuses_then_commits(registry: SensorRegistry) -> None:
    batch = ReadingBatch([message([reading(-2, 10), reading(-1, 80)]), message(reading(0, 90))], [])
    rounds, published, readings, dead = make_round(registry, [batch], [fire(NOW_MS)])
    assert rounds.run_once() == 3
    assert [r.value for r in readings.rows] == [10.0, 80.0, 90.0]
    assert [e.type for e in published.events] == ["sensor_alarm", "incident"]
    assert published.flushes == 1 and dead == []
    assert (rounds.readings.commits, rounds.events.commits) == (1, 1)  # type: ignore[attr-defined,union-attr]


def test_refused_messages_are_dead_lettered_with_the_reason(registry: SensorRegistry) -> None:
    not_json = DeadLetter(b"{", "anfang.sensors partition 0 offset 1: not JSON", b"gas-1")
    batch = ReadingBatch(
        [
            message([reading(0, 1)], sensor_id="ghost"),
            message([reading(0, 1, unit="%LEL")]),
            message([reading(0, float("nan"))]),
            message([reading(3600, 1)]),
            message([reading(0, 5)]),
        ],
        [not_json],
    )
    rounds, _, readings, dead = make_round(registry, [batch])
    rounds.run_once()
    assert [r.value for r in readings.rows] == [5.0]  # only the good message
    reasons = [d.reason for d in dead]
    assert reasons[0] == not_json.reason
    assert "unknown sensor 'ghost'" in reasons[1]
    assert "not the sensor's unit" in reasons[2] and "finite" in reasons[3] and "in the future" in reasons[4]
    assert (rounds.hub.stats.unknown_sensor, rounds.hub.stats.rejected) == (1, 3)


def test_direct_producers_are_rate_limited_the_api_is_not_twice(registry: SensorRegistry) -> None:
    flood = [message([reading(-i, 1)]) for i in range(10)]
    api = [message([reading(-100 - i, 1)], origin=ORIGIN_API) for i in range(10)]
    rounds, _, readings, _ = make_round(registry, [ReadingBatch(flood + api, [])], burst=5, batch_max=5)
    rounds.run_once()
    assert len(readings.rows) == 15  # 5 of the direct producer's 10 (burst), all 10 the API let through
    assert rounds.hub.stats.rate_limited == 5


def test_run_until_idle(registry: SensorRegistry) -> None:
    rounds, published, _, _ = make_round(registry, [ReadingBatch([message([reading(0, 99)])], [])])
    stats = run_sensor_hub(rounds, threading.Event(), idle_exit_s=0.05)
    assert (stats.readings, stats.alarms, len(published.events)) == (1, 1, 1)


def test_embedded_hub_tees_the_pipeline_and_drops_when_full(registry: SensorRegistry) -> None:
    published, pipeline_bus = Published(), Published()
    config = SensorHubConfig(queue_max=1)
    embedded = EmbeddedSensorHub(SensorHub(registry, published, config, "w"), Readings())
    tee = embedded.tee(pipeline_bus)
    tee.publish(fire(NOW_MS))  # queued (the thread is not started yet)
    tee.publish(fire(NOW_MS + 1))  # queue full: dropped, counted, the pipeline never waits
    assert len(pipeline_bus.events) == 2 and embedded.hub.stats.dropped == 1
    embedded.submit([SensorReading("gas-1", NOW_MS + 5, 80, "ppm")])  # stored, not queued: counted
    assert embedded.hub.stats.dropped == 2
    embedded.start()
    embedded.stop()
    assert published.events == []  # the fire alone makes no incident


def test_yaml_sensors_seed_an_empty_registry(tmp_path: Path, registry: SensorRegistry) -> None:
    config_path = tmp_path / "c.yaml"
    config_path.write_text(
        "detector: {type: onnx, model_path: m.onnx}\n"
        "sensors:\n"
        "  - {id: t-1, kind: temperature, unit: C, rules: [{id: hot, type: threshold, limit: 60}]}\n"
        "  - {id: q-1, kind: seismic, unit: gal, rules: [{id: felt, type: intensity, min_intensity: 6}]}\n"
    )
    config = load_config(config_path)
    empty = SensorRegistry(FileCameraRegistry(tmp_path / "other.json"))
    assert seed_sensors(empty, config) == 2
    assert [r.sensor_id for r in empty.list()] == ["q-1", "t-1"]
    assert seed_sensors(registry, config) == 0  # not empty: the registry is the truth
    assert seed_sensors(registry, config, reseed=True) == 2
    assert len(registry.list()) == 3


def test_a_bad_yaml_sensor_names_the_key_and_line(tmp_path: Path) -> None:
    from pipelines.config import ConfigError

    path = tmp_path / "c.yaml"
    path.write_text("detector: {type: onnx, model_path: m.onnx}\nsensors:\n  - {id: g, kind: gas, unit: C}\n")
    with pytest.raises(ConfigError, match=r"c.yaml:3: sensors.0: .*not one of gas's units"):
        load_config(path)


def test_an_unreadable_stored_sensor_is_skipped_not_lost(tmp_path: Path) -> None:
    backend = FileCameraRegistry(tmp_path / "sensors.json")
    backend.put({"id": "future", "kind": "radiation", "unit": "Sv"})  # written by a newer version
    registry = SensorRegistry(backend)
    registry.put(SensorSpec.model_validate(GAS))
    assert [r.sensor_id for r in registry.list()] == ["gas-1"]
    assert registry.get("future") is None and backend.get("future") is not None
