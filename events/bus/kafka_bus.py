"""The distributed bus on Kafka (kafka-python 3): publisher, consumer-group consumer, dead-letter topic.

- `KafkaPublisher`: acks=all, idempotent producer, key = camera_id (one camera's events stay ordered
  in one partition), value = the event's JSON. Delivery failures are collected and raised by `flush`.
- `KafkaEventConsumer`: manual commits (`enable_auto_commit=False`), starts at the earliest offset of a
  new group; messages that are not valid events come back as DeadLetters with the reason.
- `KafkaDeadLetterPublisher`: sends DeadLetters to `anfang.dlq`, the reason in a header, original key.
- `ensure_topics`: creates the topics if missing (idempotent).
An unreachable broker is a BusError naming the address, raised within the connect timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from events.dlq import parse_message
from events.ports import (
    CAMERAS_TOPIC,
    DLQ_TOPIC,
    EVENTS_TOPIC,
    HEALTH_TOPIC,
    BusError,
    ConsumedBatch,
    DeadLetter,
)
from events.schema import Event

logger = logging.getLogger(__name__)

#: Header of a dead letter carrying the reason (UTF-8).
DLQ_REASON_HEADER = "anfang.dlq.reason"
#: Topic configs applied at creation; the cameras topic is compacted (latest config per camera wins).
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    EVENTS_TOPIC: {},
    DLQ_TOPIC: {},
    HEALTH_TOPIC: {},
    CAMERAS_TOPIC: {"cleanup.policy": "compact"},
}


def _unreachable(bootstrap: str, exc: Exception) -> BusError:
    return BusError(f"cannot reach Kafka at {bootstrap}: {exc}")


class _Producer:
    """A KafkaProducer whose asynchronous delivery failures are kept until the next `flush`."""

    def __init__(
        self,
        bootstrap: str,
        client_id: str,
        timeout_s: float,
        linger_ms: int,
        compression: str | None = None,
        max_request_bytes: int = 1_048_576,
    ) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        timeout_ms = max(1, int(timeout_s * 1000))
        try:
            self.producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                client_id=client_id,
                acks="all",
                enable_idempotence=True,
                linger_ms=linger_ms,
                compression_type=compression,
                max_request_size=max_request_bytes,
                bootstrap_timeout_ms=timeout_ms,
                max_block_ms=timeout_ms,
            )
        except KafkaError as exc:
            raise _unreachable(bootstrap, exc) from exc
        self._errors: list[str] = []
        self._lock = threading.Lock()

    def send(self, topic: str, key: bytes | None, value: bytes, what: str, headers: Any = None) -> None:
        from kafka.errors import KafkaError

        try:
            future = self.producer.send(topic, key=key, value=value, headers=headers)
        except KafkaError as exc:
            raise BusError(f"Kafka at {self.bootstrap} refused {what} for {topic}: {exc}") from exc

        def failed(exc: BaseException) -> None:
            with self._lock:
                self._errors.append(f"{what}: {exc}")

        future.add_errback(failed)

    def flush(self, topic: str, timeout_s: float) -> None:
        from kafka.errors import KafkaError

        try:
            self.producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            raise BusError(f"Kafka at {self.bootstrap}: flush to {topic} did not finish: {exc}") from exc
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            raise BusError(
                f"{len(errors)} message(s) not delivered to {topic} at {self.bootstrap}; first: {errors[0]}"
            )

    def close(self) -> None:
        self.producer.close(timeout=self.timeout_s)


class KafkaPublisher:
    def __init__(
        self,
        bootstrap: str,
        topic: str = EVENTS_TOPIC,
        client_id: str = "anfang-publisher",
        timeout_s: float = 10.0,
        *,
        linger_ms: int = 20,
    ) -> None:
        self._topic = topic
        self._producer = _Producer(bootstrap, client_id, timeout_s, linger_ms)

    def publish(self, event: Event) -> None:
        self._producer.send(
            self._topic, event.camera_id.encode(), event.to_json_bytes(), f"event {event.event_id}"
        )

    def flush(self, timeout_s: float = 30.0) -> None:
        self._producer.flush(self._topic, timeout_s)

    def close(self) -> None:
        self._producer.close()


class KafkaDeadLetterPublisher:
    """Callable handler for `run_sink(dead_letters=...)`: sends and flushes; BusError if any fails."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = DLQ_TOPIC,
        client_id: str = "anfang-dlq",
        timeout_s: float = 10.0,
    ) -> None:
        self._topic = topic
        self._timeout_s = timeout_s
        self._producer = _Producer(bootstrap, client_id, timeout_s, linger_ms=0)

    def __call__(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            headers = [(DLQ_REASON_HEADER, letter.reason.encode())]
            self._producer.send(self._topic, letter.key, letter.raw, "dead letter", headers)
        self._producer.flush(self._topic, self._timeout_s)

    def close(self) -> None:
        self._producer.close()


class KafkaEventConsumer:
    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        topic: str = EVENTS_TOPIC,
        *,
        client_id: str = "anfang-sink",
        timeout_s: float = 10.0,
        max_poll_interval_s: float = 300.0,
    ) -> None:
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        self._bootstrap = bootstrap
        self._topic = topic
        try:
            self._consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=group_id,
                client_id=client_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                bootstrap_timeout_ms=max(1, int(timeout_s * 1000)),
                max_poll_interval_ms=int(max_poll_interval_s * 1000),
            )
            # Join the group only once the topic's partitions are known: a leader that assigns from
            # metadata without them can end up with nothing assigned until the next rebalance.
            deadline = time.monotonic() + timeout_s
            while not self._consumer.partitions_for_topic(topic) and time.monotonic() < deadline:
                time.sleep(0.1)
            self._consumer.subscribe([topic])
        except KafkaError as exc:
            raise _unreachable(bootstrap, exc) from exc

    def poll(self, timeout_s: float, max_records: int) -> ConsumedBatch:
        from kafka.errors import KafkaError

        if max_records < 1:
            raise ValueError(f"max_records must be >= 1, got {max_records}")
        try:
            polled = self._consumer.poll(timeout_ms=max(0, int(timeout_s * 1000)), max_records=max_records)
        except KafkaError as exc:
            raise BusError(f"Kafka at {self._bootstrap}: poll of {self._topic} failed: {exc}") from exc
        events: list[Event] = []
        dead: list[DeadLetter] = []
        for tp, records in polled.items():
            for rec in records:
                parsed = parse_message(
                    rec.value, rec.key, f"{tp.topic} partition {tp.partition} offset {rec.offset}"
                )
                if isinstance(parsed, DeadLetter):
                    dead.append(parsed)
                else:
                    events.append(parsed)
        return ConsumedBatch(events=events, dead_letters=dead)

    def commit(self) -> None:
        """Commits the offsets of everything `poll` returned so far, synchronously."""
        from kafka.errors import KafkaError

        try:
            self._consumer.commit()
        except KafkaError as exc:
            raise BusError(f"Kafka at {self._bootstrap}: commit on {self._topic} failed: {exc}") from exc

    def close(self) -> None:
        self._consumer.close(autocommit=False)


def ensure_topics(
    bootstrap: str,
    partitions: int = 3,
    *,
    replication_factor: int = 1,
    topics: Sequence[str] = (EVENTS_TOPIC, DLQ_TOPIC, HEALTH_TOPIC, CAMERAS_TOPIC),
    timeout_s: float = 10.0,
    compacted: Sequence[str] = (),
) -> list[str]:
    """Creates the missing topics; returns the names created (empty when all existed). Idempotent.

    `compacted`: topics (besides the default cameras topic) created with `cleanup.policy=compact`.
    """
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    timeout_ms = max(1, int(timeout_s * 1000))
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="anfang-admin",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
        )
    except KafkaError as exc:
        raise _unreachable(bootstrap, exc) from exc
    try:
        missing = [t for t in topics if t not in set(admin.list_topics())]
        if not missing:
            return []
        spec = {
            t: {
                "num_partitions": partitions,
                "replication_factor": replication_factor,
                "configs": TOPIC_CONFIGS[CAMERAS_TOPIC] if t in compacted else TOPIC_CONFIGS.get(t, {}),
            }
            for t in missing
        }
        response = admin.create_topics(spec, timeout_ms=timeout_ms, raise_errors=False)
        created = []
        for result in response["topics"]:
            code = result["error_code"]
            if code == 0:
                created.append(result["name"])
            elif code != TopicAlreadyExistsError.errno:  # created meanwhile by someone else: fine
                raise BusError(
                    f"Kafka at {bootstrap} refused to create topic {result['name']}: "
                    f"error {code} {result.get('error_message') or ''}".rstrip()
                )
        if created:
            admin.wait_for_topics(created, timeout_ms=timeout_ms)
            logger.info("created Kafka topics %s (%d partitions)", ", ".join(created), partitions)
        return created
    except KafkaError as exc:
        raise BusError(f"Kafka at {bootstrap}: cannot create topics: {exc}") from exc
    finally:
        admin.close()
