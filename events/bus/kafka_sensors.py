"""Sensor readings over Kafka (kafka-python 3): the `anfang.sensors` topic, and the sensor registry.

- Messages: key = sensor id (one sensor's readings stay ordered in one partition), value = one reading
  `{"ts_ms", "value", "unit"}` or a JSON list of them; header `anfang.origin` = `api` when the API
  validated and rate-limited the batch already.
- `KafkaReadingPublisher`: the API's `ReadingSink` when distributed: one message per batch, waits for
  the broker's ack (acks=all, idempotent) so a 202 means the batch is on the broker.
- `KafkaReadingConsumer`: the sensor hub's consumer group, manual commits; a message without a key or
  whose value is not JSON comes back as a DeadLetter with the reason.
- `KafkaSensorRegistryBackend`: the compacted registry topic read like the cameras topic.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict

from events.bus.kafka_bus import _Producer, _unreachable
from events.bus.kafka_cameras import KafkaCameraRegistry
from events.ports import BusError, DeadLetter
from events.sensors import (
    ORIGIN_API,
    SENSOR_REGISTRY_TOPIC,
    SENSORS_TOPIC,
    ReadingBatch,
    ReadingMessage,
    SensorReading,
)

logger = logging.getLogger(__name__)

ORIGIN_HEADER = "anfang.origin"


def readings_json(readings: Sequence[SensorReading]) -> bytes:
    """The message value of a batch: a JSON list of `{ts_ms, value, unit}`."""
    rows = [{k: v for k, v in asdict(r).items() if k != "sensor_id"} for r in readings]
    return json.dumps(rows, allow_nan=False, separators=(",", ":")).encode()


class KafkaReadingPublisher:
    """`ReadingSink` on the readings topic; one message per batch, acknowledged before returning."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = SENSORS_TOPIC,
        *,
        client_id: str = "anfang-readings",
        timeout_s: float = 10.0,
    ) -> None:
        self._topic = topic
        self._timeout_s = timeout_s
        self._producer = _Producer(bootstrap, client_id, timeout_s, linger_ms=0)

    def submit(self, readings: Sequence[SensorReading]) -> None:
        by_sensor: dict[str, list[SensorReading]] = {}
        for r in readings:
            by_sensor.setdefault(r.sensor_id, []).append(r)
        headers = [(ORIGIN_HEADER, ORIGIN_API.encode())]
        for sensor_id, batch in by_sensor.items():
            what = f"{len(batch)} reading(s) of {sensor_id}"
            self._producer.send(self._topic, sensor_id.encode(), readings_json(batch), what, headers)
        self._producer.flush(self._topic, self._timeout_s)

    def close(self) -> None:
        self._producer.close()


class KafkaReadingConsumer:
    """`ReadingConsumer` in a consumer group; messages stay uncommitted until `commit()`."""

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        topic: str = SENSORS_TOPIC,
        *,
        client_id: str = "anfang-sensors",
        timeout_s: float = 10.0,
    ) -> None:
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        self._bootstrap, self._topic = bootstrap, topic
        try:
            self._consumer = KafkaConsumer(
                topic,
                bootstrap_servers=bootstrap,
                group_id=group_id,
                client_id=client_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                bootstrap_timeout_ms=max(1, int(timeout_s * 1000)),
            )
        except KafkaError as exc:
            raise _unreachable(bootstrap, exc) from exc

    def poll(self, timeout_s: float, max_records: int) -> ReadingBatch:
        from kafka.errors import KafkaError

        try:
            polled = self._consumer.poll(timeout_ms=max(0, int(timeout_s * 1000)), max_records=max_records)
        except KafkaError as exc:
            raise BusError(f"Kafka at {self._bootstrap}: poll of {self._topic} failed: {exc}") from exc
        messages: list[ReadingMessage] = []
        dead: list[DeadLetter] = []
        for tp, records in polled.items():
            for rec in records:
                where = f"{tp.topic} partition {tp.partition} offset {rec.offset}"
                raw: bytes = rec.value or b""
                if not rec.key:
                    dead.append(DeadLetter(raw, f"{where}: no key (the key is the sensor id)", rec.key))
                    continue
                try:
                    payload = json.loads(raw)
                except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
                    dead.append(DeadLetter(raw, f"{where}: not JSON: {exc}", rec.key))
                    continue
                origin = next((v.decode(errors="replace") for k, v in rec.headers if k == ORIGIN_HEADER), "")
                sensor_id = rec.key.decode(errors="replace")
                messages.append(ReadingMessage(sensor_id, payload, origin, raw, where))
        return ReadingBatch(messages=messages, dead_letters=dead)

    def commit(self) -> None:
        from kafka.errors import KafkaError

        try:
            self._consumer.commit()
        except KafkaError as exc:
            raise BusError(f"Kafka at {self._bootstrap}: commit on {self._topic} failed: {exc}") from exc

    def close(self) -> None:
        self._consumer.close(autocommit=False)


def sensor_registry_backend(
    bootstrap: str, topic: str = SENSOR_REGISTRY_TOPIC, *, timeout_s: float = 10.0
) -> KafkaCameraRegistry:
    """The camera registry machinery on the compacted sensor-registry topic (key = sensor id)."""
    return KafkaCameraRegistry(bootstrap, topic, client_id="anfang-sensor-registry", timeout_s=timeout_s)
