"""The Kafka bus against the real broker deploy/local/start runs: round trip, keys, dead letters with their
reason, commit-after-store, redelivery. Each test uses topics and a consumer group of its own."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from events.bus.kafka_bus import (
    DLQ_REASON_HEADER,
    KafkaDeadLetterPublisher,
    KafkaEventConsumer,
    KafkaPublisher,
    ensure_topics,
)
from events.ports import BusError, DeadLetter, EventQuery
from events.schema import Event
from events.sink import SinkStats, run_sink
from events.store.clickhouse_store import ClickHouseStore
from tests.integration.conftest import LocalServers
from tests.unit.events_samples import make_event

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning"),
]


@dataclass(frozen=True)
class Topics:
    bootstrap: str
    events: str
    dlq: str


@pytest.fixture
def topics(local_servers: LocalServers) -> Iterator[Topics]:
    """Two fresh topics for one test, deleted afterwards."""
    from kafka.admin import KafkaAdminClient

    tag = uuid.uuid4().hex[:10]
    t = Topics(local_servers.kafka_bootstrap, f"anfang.test-{tag}.events", f"anfang.test-{tag}.dlq")
    created = ensure_topics(t.bootstrap, partitions=3, topics=(t.events, t.dlq))
    assert sorted(created) == sorted([t.events, t.dlq])
    yield t
    admin = KafkaAdminClient(bootstrap_servers=t.bootstrap)
    try:
        admin.delete_topics([t.events, t.dlq], raise_errors=False)
    finally:
        admin.close()


def _raw_consumer(bootstrap: str, topic: str) -> Any:
    from kafka import KafkaConsumer

    return KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )


def _drain_raw(bootstrap: str, topic: str, want: int, timeout_s: float = 30.0) -> list[Any]:
    consumer = _raw_consumer(bootstrap, topic)
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < want and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def _consume(consumer: KafkaEventConsumer, want: int, timeout_s: float = 30.0) -> list[Event]:
    got: list[Event] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        got.extend(consumer.poll(0.5, 500).events)
    return got


@pytest.fixture
def publisher(topics: Topics) -> Iterator[KafkaPublisher]:
    pub = KafkaPublisher(topics.bootstrap, topic=topics.events, client_id="test-publisher")
    yield pub
    pub.close()


def test_ensure_topics_is_idempotent(topics: Topics) -> None:
    assert ensure_topics(topics.bootstrap, partitions=3, topics=(topics.events, topics.dlq)) == []


def test_round_trip_keeps_every_event_and_each_cameras_order(
    topics: Topics, publisher: KafkaPublisher
) -> None:
    events = [make_event(i, camera_id=f"cam-{i % 5}") for i in range(1000)]
    for e in events:
        publisher.publish(e)
    publisher.flush(timeout_s=30)
    consumer = KafkaEventConsumer(topics.bootstrap, group_id=f"g-{uuid.uuid4().hex[:8]}", topic=topics.events)
    try:
        got = _consume(consumer, len(events))
        consumer.commit()
    finally:
        consumer.close()
    assert sorted(e.event_id for e in got) == sorted(e.event_id for e in events)
    assert {e.event_id: e for e in got} == {e.event_id: e for e in events}
    for cam in {e.camera_id for e in events}:  # one camera = one key = one partition = in order
        assert [e.ts_ms for e in got if e.camera_id == cam] == [e.ts_ms for e in events if e.camera_id == cam]


def test_messages_are_keyed_by_camera(topics: Topics, publisher: KafkaPublisher) -> None:
    for i in range(30):
        publisher.publish(make_event(i, camera_id=f"cam-{i % 3}"))
    publisher.flush()
    records = _drain_raw(topics.bootstrap, topics.events, 30)
    partitions: dict[bytes, set[int]] = {}
    for r in records:
        partitions.setdefault(r.key, set()).add(r.partition)
    assert set(partitions) == {b"cam-0", b"cam-1", b"cam-2"}
    assert all(len(p) == 1 for p in partitions.values())


def test_uncommitted_events_are_delivered_again_to_the_group(
    topics: Topics, publisher: KafkaPublisher
) -> None:
    for i in range(10):
        publisher.publish(make_event(i))
    publisher.flush()
    group = f"g-{uuid.uuid4().hex[:8]}"
    first = KafkaEventConsumer(topics.bootstrap, group_id=group, topic=topics.events)
    try:
        assert len(_consume(first, 10)) == 10  # read, never committed
    finally:
        first.close()
    second = KafkaEventConsumer(topics.bootstrap, group_id=group, topic=topics.events)
    try:
        assert len(_consume(second, 10)) == 10
        second.commit()
    finally:
        second.close()
    third = KafkaEventConsumer(topics.bootstrap, group_id=group, topic=topics.events)
    try:
        assert _consume(third, 1, timeout_s=3.0) == []  # committed: nothing left for the group
    finally:
        third.close()


def test_sink_stores_events_and_sends_garbage_to_the_dlq_with_its_reason(
    topics: Topics, publisher: KafkaPublisher, local_servers: LocalServers
) -> None:
    from kafka import KafkaProducer

    events = [make_event(i, camera_id=f"cam-{i % 2}") for i in range(100)]
    for e in events[:50]:
        publisher.publish(e)
    publisher.flush()
    raw = KafkaProducer(bootstrap_servers=topics.bootstrap)
    v2 = events[0].model_dump(mode="json") | {"schema_version": "2.0"}
    raw.send(topics.events, key=b"cam-x", value=b"{this is not json")
    raw.send(topics.events, key=b"cam-y", value=json.dumps(v2).encode())
    raw.flush()
    raw.close()
    for e in events[50:]:
        publisher.publish(e)
    publisher.flush()

    database = f"anfang_test_{uuid.uuid4().hex[:10]}"
    store = ClickHouseStore(local_servers.clickhouse_host, local_servers.clickhouse_port, database=database)
    consumer = KafkaEventConsumer(topics.bootstrap, group_id=f"g-{uuid.uuid4().hex[:8]}", topic=topics.events)
    dlq = KafkaDeadLetterPublisher(topics.bootstrap, topic=topics.dlq)
    try:
        store.ensure_schema()
        stop = threading.Event()
        result: list[SinkStats] = []
        sink = threading.Thread(
            target=lambda: result.append(
                run_sink(consumer, store, batch_max=40, batch_wait_s=0.5, stop=stop, dead_letters=dlq)
            )
        )
        sink.start()
        deadline = time.monotonic() + 30
        while store.query(EventQuery(limit=1)).total < 100 and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()  # drains: returns once a poll comes back empty
        sink.join(timeout=30)
        assert result, "the sink did not stop"
        assert (result[0].inserted, result[0].dead_letters) == (100, 2)
        assert store.query(EventQuery(limit=1)).total == 100
    finally:
        consumer.close()
        dlq.close()
        store._execute(f"DROP DATABASE IF EXISTS {database}")
        store.close()

    letters = {r.key: r for r in _drain_raw(topics.bootstrap, topics.dlq, 2)}
    assert set(letters) == {b"cam-x", b"cam-y"}
    reasons = {k: dict(r.headers)[DLQ_REASON_HEADER].decode() for k, r in letters.items()}
    assert reasons[b"cam-x"].startswith("invalid JSON: ")
    assert reasons[b"cam-y"].startswith("unsupported schema version: ")
    assert f"(from {topics.events} partition " in reasons[b"cam-x"]
    assert letters[b"cam-x"].value == b"{this is not json"


def test_dlq_publisher_sends_reason_and_key(topics: Topics) -> None:
    dlq = KafkaDeadLetterPublisher(topics.bootstrap, topic=topics.dlq)
    try:
        dlq([DeadLetter(raw=b"\x00\x01", reason="invalid JSON: ünïcode", key=None)])
    finally:
        dlq.close()
    (record,) = _drain_raw(topics.bootstrap, topics.dlq, 1)
    assert record.value == b"\x00\x01" and record.key is None
    assert dict(record.headers)[DLQ_REASON_HEADER].decode() == "invalid JSON: ünïcode"


def test_an_event_the_broker_cannot_take_is_a_bus_error(topics: Topics, publisher: KafkaPublisher) -> None:
    huge = make_event(1, label="x" * 2_000_000)  # over the producer's 1 MiB max_request_size
    with pytest.raises(
        BusError, match=f"refused event {huge.event_id} for {topics.events}: .*MessageSizeTooLarge"
    ):
        publisher.publish(huge)
    publisher.publish(make_event(2))  # the publisher is still usable
    publisher.flush()
