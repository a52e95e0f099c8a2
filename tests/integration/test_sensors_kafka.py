"""Sensors distributed, on the real broker and ClickHouse server deploy/local/start runs: the sensor
registry on its compacted topic; readings from a direct producer (one object, a list, garbage, no key,
an unknown sensor) and from the API (`KafkaReadingPublisher`) consumed by the `anfang sensors` round
built by the composition root: stored in ClickHouse, alarms and the incident with a video finding on
the events topic, refusals on the dead-letter topic with their reason. Topics, groups and the
database are the test's own."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from anfang.settings import Settings
from anfang.wiring import build_sensor_round, make_sensor_registry
from api.app import create_app
from api.sensor_services import SensorService
from events.bus.kafka_bus import DLQ_REASON_HEADER, KafkaEventConsumer, KafkaPublisher
from events.bus.kafka_sensors import KafkaReadingPublisher
from events.schema import Event, EventAttributes, ModelRef, Severity, make_event_id
from events.sensors import ReadingQuery, SensorRegistry, SensorSpec
from events.store.clickhouse_store import ClickHouseStore
from pipelines.sensors.runner import run_sensor_hub
from tests.integration.conftest import LocalServers
from tests.unit.api_fakes import FakeAuthenticator, FakeEventStore, bearer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning"),
]

GAS = {
    "id": "gas-1", "kind": "gas", "unit": "ppm", "site_id": "plant", "camera_ids": ["dock"],
    "rules": [{"id": "co", "type": "threshold", "limit": 50, "severity": "high"}],
}  # fmt: skip


def _admin_delete(bootstrap: str, names: list[str]) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        if [n for n in names if n in existing]:
            admin.delete_topics([n for n in names if n in existing], raise_errors=False)
    finally:
        admin.close()


@pytest.fixture
def settings(local_servers: LocalServers, tmp_path: Path) -> Iterator[Settings]:
    tag = uuid.uuid4().hex[:10]
    s = Settings(
        mode="distributed",
        data_dir=tmp_path,
        kafka_bootstrap=local_servers.kafka_bootstrap,
        kafka_events_topic=f"anfang.test-{tag}.events",
        kafka_dlq_topic=f"anfang.test-{tag}.dlq",
        kafka_health_topic=f"anfang.test-{tag}.health",
        kafka_cameras_topic=f"anfang.test-{tag}.cameras",
        kafka_sensors_topic=f"anfang.test-{tag}.sensors",
        kafka_sensor_registry_topic=f"anfang.test-{tag}.sensor-registry",
        kafka_sensors_group=f"s-{tag}",
        kafka_fusion_group=f"f-{tag}",
        clickhouse_host=local_servers.clickhouse_host,
        clickhouse_port=local_servers.clickhouse_port,
        clickhouse_database=f"anfang_test_{tag}",
        worker_id="hub-test",
        sensors={"poll_timeout_s": 0.2, "fusion": {"window_s": 60}},
    )
    yield s
    time.sleep(0.3)
    topics = [s.kafka_events_topic, s.kafka_dlq_topic, s.kafka_health_topic, s.kafka_cameras_topic]
    _admin_delete(s.kafka_bootstrap, [*topics, s.kafka_sensors_topic, s.kafka_sensor_registry_topic])


@pytest.fixture
def store(settings: Settings) -> Iterator[ClickHouseStore]:
    s = ClickHouseStore(
        settings.clickhouse_host, settings.clickhouse_port, database=settings.clickhouse_database
    )
    s.ensure_schema()
    yield s
    s._execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    s.close()


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=10)
    finally:
        producer.close()


def _drain(bootstrap: str, topic: str, want: int, timeout_s: float = 30.0) -> list[Any]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < want and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                got.extend(batch)
    finally:
        consumer.close()
    return got


def _fire(ts_ms: int) -> Event:
    return Event(
        event_id=make_event_id("dock", "fire-rule", 4, ts_ms), ts_ms=ts_ms, camera_id="dock", site_id="plant",
        type="fire", severity=Severity.MEDIUM, alert=True, rule_id="fire-rule", track_id=4, label="fire",
        confidence=0.7, bbox_xyxy=(0.1, 0.1, 0.4, 0.5), attributes=EventAttributes(type="fire"),
        model=ModelRef(name="fire", version="1"), worker_id="pipeline-1",
    )  # fmt: skip


def test_the_sensor_registry_lives_on_its_compacted_topic(settings: Settings) -> None:
    first = make_sensor_registry(settings)
    try:
        first.put(SensorSpec.model_validate(GAS))
        assert first.put(SensorSpec.model_validate({**GAS, "zone_ids": ["tank"]})).version == 2
        second = make_sensor_registry(settings)
        try:
            (record,) = second.list()
            assert (record.sensor_id, record.version, record.spec.zone_ids) == ("gas-1", 2, ["tank"])
        finally:
            second.close()
        assert first.delete("gas-1") and first.get("gas-1") is None
    finally:
        first.close()


def _reading(now_ms: int, dt_s: float, value: float, unit: str = "ppm") -> dict[str, Any]:
    return {"ts_ms": now_ms + int(dt_s * 1000), "value": value, "unit": unit}


def _send_everything(
    settings: Settings, registry: SensorRegistry, store: ClickHouseStore, now_ms: int
) -> None:
    """A direct producer (one object, a list, four messages to refuse), the API distributed, a finding."""
    topic, boot = settings.kafka_sensors_topic, settings.kafka_bootstrap

    def r(dt_s: float, value: float, unit: str = "ppm") -> bytes:
        return json.dumps(_reading(now_ms, dt_s, value, unit)).encode()

    _produce(
        boot,
        topic,
        [
            (b"gas-1", r(-10, 12.5)),
            (b"gas-1", b"[" + r(-9, 20) + b"," + r(-8, 75) + b"]"),
            (b"gas-1", b"{not json"),
            (None, r(-7, 1)),
            (b"ghost", r(-7, 1)),
            (b"gas-1", r(-7, 1, unit="%LEL")),
        ],
    )
    # the API, distributed: validated, rate-limited, then on the topic (202 = acknowledged)
    sink = KafkaReadingPublisher(boot, topic)
    service = SensorService(registry, sink=sink, readings=store, limits=settings.sensors.ingest)
    app = create_app(FakeEventStore(), settings.data_dir, sensors=service, authenticator=FakeAuthenticator())
    client = TestClient(app, headers=bearer("integrator"))
    answer = client.post(
        "/v1/sensors/gas-1/readings", json=[_reading(now_ms, -6, 80), _reading(now_ms, -5, 30)]
    )
    assert (answer.status_code, answer.json()["accepted"]) == (202, 2)
    overflow = f'[{{"ts_ms": {now_ms}, "value": 1e400, "unit": "ppm"}}]'  # JSON, but infinite
    assert client.post("/v1/sensors/gas-1/readings", content=overflow).status_code == 422
    sink.close()
    # a video finding on the events topic, 3 s after the alarm
    video = KafkaPublisher(boot, settings.kafka_events_topic)
    video.publish(_fire(now_ms - 5000))
    video.flush()
    video.close()


def _events(settings: Settings, want: int, deadline: float) -> list[Event]:
    consumer = KafkaEventConsumer(
        settings.kafka_bootstrap, f"check-{uuid.uuid4().hex[:8]}", settings.kafka_events_topic
    )
    got: list[Event] = []
    try:
        while len(got) < want and time.monotonic() < deadline:
            got.extend(consumer.poll(0.5, 100).events)
    finally:
        consumer.close()
    return got


def test_readings_over_kafka_are_stored_evaluated_fused_and_refusals_dead_lettered(
    settings: Settings, store: ClickHouseStore
) -> None:
    registry: SensorRegistry = make_sensor_registry(settings)
    registry.put(SensorSpec.model_validate(GAS))
    now_ms = int(time.time() * 1000)
    rounds = build_sensor_round(settings, registry, store)
    stop = threading.Event()
    runner = threading.Thread(target=run_sensor_hub, args=(rounds, stop), daemon=True)
    runner.start()
    try:
        _send_everything(settings, registry, store, now_ms)
        deadline = time.monotonic() + 30
        while len(store.query_readings(ReadingQuery("gas-1"))) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        stored = store.query_readings(ReadingQuery("gas-1"))
        assert [(x.ts_ms - now_ms, x.value) for x in stored] == [
            (-5000, 30.0), (-6000, 80.0), (-8000, 75.0), (-9000, 20.0), (-10000, 12.5),
        ]  # fmt: skip

        got = _events(settings, 4, deadline)
        kinds = sorted((e.type, str(getattr(e.attributes, "phase", ""))) for e in got)
        assert kinds == [("fire", ""), ("incident", ""), ("sensor_alarm", "end"), ("sensor_alarm", "start")]
        alarm = next(e for e in got if e.type == "sensor_alarm" and e.attributes.phase == "start")  # type: ignore[attr-defined]
        incident = next(e for e in got if e.type == "incident")
        assert alarm.ts_ms == now_ms - 8000 and alarm.camera_id == "dock"
        # read back from the bus: attributes as JSON (forward-compatible parsing), ids as text
        assert incident.attributes.sensor_event_id == str(alarm.event_id)  # type: ignore[attr-defined]
        assert incident.attributes.video_event_id == str(_fire(now_ms - 5000).event_id)  # type: ignore[attr-defined]
        assert incident.severity == Severity.CRITICAL  # high (sensor) and medium (video): one step up

        letters = _drain(settings.kafka_bootstrap, settings.kafka_dlq_topic, 4)
        reasons = sorted(dict(x.headers)[DLQ_REASON_HEADER].decode() for x in letters)
        assert len(reasons) == 4
        assert any("not JSON" in x for x in reasons) and any("no key" in x for x in reasons)
        assert any("unknown sensor 'ghost'" in x for x in reasons)
        assert any("not the sensor's unit" in x for x in reasons)
    finally:
        stop.set()
        runner.join(timeout=15)
        rounds.close()
        registry.close()
    assert not runner.is_alive()
