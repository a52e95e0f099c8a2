"""Kafka bus logic without a broker: delivery failures surface at flush, polled bytes become events or
dead letters naming where they came from. (Against the real broker: tests/integration.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError, NotLeaderForPartitionError
from kafka.future import Future
from kafka.structs import TopicPartition

from events.bus import kafka_bus
from events.ports import BusError, DeadLetter
from tests.unit.events_samples import make_event

pytestmark = pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning")


class FakeProducer:
    """Records sends; the futures fail or succeed when flush() runs, like the real sender thread."""

    instances: list[FakeProducer] = []

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.sent: list[tuple[str, bytes | None, bytes, Any]] = []
        self.pending: list[Future] = []
        self.fail_next = 0
        FakeProducer.instances.append(self)

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"", headers: Any = None) -> Future:
        self.sent.append((topic, key, value, headers))
        future = Future()
        self.pending.append(future)
        return future

    def flush(self, timeout: float | None = None) -> None:
        for future in self.pending:
            if self.fail_next:
                self.fail_next -= 1
                future.failure(NotLeaderForPartitionError("leader moved"))
            else:
                future.success(None)
        self.pending.clear()

    def close(self, timeout: float | None = None) -> None:
        pass


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> type[FakeProducer]:
    import kafka

    FakeProducer.instances = []
    monkeypatch.setattr(kafka, "KafkaProducer", FakeProducer)
    return FakeProducer


def test_publisher_config_is_safe_and_keyed_by_camera(producer: type[FakeProducer]) -> None:
    pub = kafka_bus.KafkaPublisher("h:1", topic="t", client_id="c", timeout_s=2.5)
    fake = producer.instances[0]
    assert fake.config["acks"] == "all" and fake.config["enable_idempotence"] is True
    assert fake.config["bootstrap_timeout_ms"] == 2500 and fake.config["linger_ms"] == 20
    event = make_event(1, camera_id="cam-9")
    pub.publish(event)
    assert fake.sent == [("t", b"cam-9", event.to_json_bytes(), None)]


def test_failed_deliveries_are_raised_by_flush_once(producer: type[FakeProducer]) -> None:
    pub = kafka_bus.KafkaPublisher("h:1", topic="t")
    fake = producer.instances[0]
    fake.fail_next = 2
    events = [make_event(i) for i in range(3)]
    for e in events:
        pub.publish(e)
    with pytest.raises(
        BusError, match=rf"2 message\(s\) not delivered to t at h:1; first: event {events[0].event_id}"
    ):
        pub.flush()
    pub.publish(make_event(4))
    pub.flush()  # the failures were reported once; this batch went through


def test_flush_timeout_is_a_bus_error(producer: type[FakeProducer], monkeypatch: pytest.MonkeyPatch) -> None:
    pub = kafka_bus.KafkaPublisher("h:1", topic="t")

    def stuck(timeout: float | None = None) -> None:
        raise KafkaTimeoutError("Timeout after waiting for 1 secs.")

    monkeypatch.setattr(producer.instances[0], "flush", stuck)
    with pytest.raises(BusError, match="flush to t did not finish"):
        pub.flush(timeout_s=1)


def test_dead_letter_publisher_sends_reason_header_and_key(producer: type[FakeProducer]) -> None:
    dlq = kafka_bus.KafkaDeadLetterPublisher("h:1", topic="dlq")
    dlq([DeadLetter(raw=b"{x", reason="invalid JSON: boom", key=b"cam-1")])
    assert producer.instances[0].sent == [
        ("dlq", b"cam-1", b"{x", [(kafka_bus.DLQ_REASON_HEADER, b"invalid JSON: boom")])
    ]
    producer.instances[0].fail_next = 1
    with pytest.raises(BusError, match=r"1 message\(s\) not delivered to dlq"):
        dlq([DeadLetter(raw=b"y", reason="r")])


@dataclass
class Record:
    key: bytes | None
    value: bytes | None
    offset: int


class FakeConsumer:
    def __init__(self, *topics: str, **config: Any) -> None:
        self.config = config
        self.records: dict[TopicPartition, list[Record]] = {}
        self.commits = 0
        self.subscribed: list[str] = []

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def subscribe(self, topics: list[str]) -> None:
        self.subscribed = list(topics)

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, list[Record]]:
        out, self.records = self.records, {}
        return out

    def commit(self) -> None:
        self.commits += 1

    def close(self, autocommit: bool = True) -> None:
        assert autocommit is False


def test_consumer_splits_events_from_dead_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    import kafka

    monkeypatch.setattr(kafka, "KafkaConsumer", FakeConsumer)
    consumer = kafka_bus.KafkaEventConsumer("h:1", group_id="g", topic="t")
    fake: FakeConsumer = consumer._consumer
    assert fake.config["enable_auto_commit"] is False and fake.config["auto_offset_reset"] == "earliest"
    good = make_event(1)
    fake.records = {
        TopicPartition("t", 0): [Record(b"cam-1", good.to_json_bytes(), 5), Record(b"k", b"nope", 6)],
        TopicPartition("t", 2): [Record(None, None, 0)],
    }
    batch = consumer.poll(0.1, 10)
    assert batch.events == [good]
    assert [(d.key, d.raw) for d in batch.dead_letters] == [(b"k", b"nope"), (None, b"")]
    assert batch.dead_letters[0].reason.startswith("invalid JSON: ")
    assert batch.dead_letters[0].reason.endswith("(from t partition 0 offset 6)")
    assert batch.dead_letters[1].reason == "empty message (no value) (from t partition 2 offset 0)"
    consumer.commit()
    assert fake.commits == 1
    consumer.close()
