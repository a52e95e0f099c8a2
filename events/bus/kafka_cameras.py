"""Cameras over Kafka (kafka-python 3): the distributed side of events/cameras.py.

- `KafkaCameraRegistry` (API, seeding): the compacted cameras topic (key = camera id, value = a
  `CameraRecord` as JSON, tombstone = removed) read into memory by a background consumer without a
  group (every partition, from the beginning). The constructor returns once the view has caught up
  with the end of the topic, so `list()` is complete; `put`/`delete` wait for the broker's ack and
  update the view at once (read-your-writes).
- `KafkaCameraFeed` (pipeline workers, events/bus/kafka_camera_feed.py) and `KafkaHeartbeatPublisher` /
  `KafkaHealthView` (events/bus/kafka_health.py) are importable from here too.

The topics must exist (`ensure_topics`); none is auto-created. An unreachable broker is a BusError
naming the address within `timeout_s` (for the registry a `KafkaRegistryError`, both a BusError and a
RegistryError).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from events.bus.kafka_bus import _Producer
from events.bus.kafka_camera_feed import KafkaCameraFeed
from events.bus.kafka_health import KafkaHealthView, KafkaHeartbeatPublisher
from events.bus.kafka_readers import (
    BackgroundReader,
    caught_up,
    open_consumer,
    parse_camera_record,
    topic_partitions,
)
from events.cameras import CameraRecord, CameraSpec, RegistryError, camera_id_of
from events.ports import CAMERAS_TOPIC, BusError

__all__ = [
    "KafkaCameraFeed",
    "KafkaCameraRegistry",
    "KafkaHealthView",
    "KafkaHeartbeatPublisher",
    "KafkaRegistryError",
]

logger = logging.getLogger(__name__)


class KafkaRegistryError(RegistryError, BusError):
    """The cameras topic is unreachable or refused a change (caught as either error type)."""


class KafkaCameraRegistry(BackgroundReader):
    """`CameraRegistry` on the compacted cameras topic; thread-safe.

    A put whose spec equals the camera's current spec changes nothing (no record, no new version).
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str = CAMERAS_TOPIC,
        *,
        client_id: str = "anfang-registry",
        timeout_s: float = 10.0,
    ) -> None:
        from kafka.errors import KafkaError

        self.timeout_s = timeout_s
        try:
            consumer = open_consumer(bootstrap, f"{client_id}-reader", timeout_s)
        except BusError as exc:
            raise KafkaRegistryError(str(exc)) from exc
        super().__init__(consumer, bootstrap, topic, name=f"registry-{topic}")
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._view: dict[str, tuple[CameraRecord | None, int]] = {}  # camera id -> (record, offset)
        self._end_offsets: dict[Any, int] = {}
        self._ready = False
        try:
            partitions = topic_partitions(consumer, bootstrap, topic)
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            self._end_offsets = consumer.end_offsets(partitions, timeout_ms=int(timeout_s * 1000))
            self._producer = _Producer(bootstrap, client_id, timeout_s, linger_ms=0)
        except (KafkaError, BusError) as exc:
            consumer.close(autocommit=False)
            raise KafkaRegistryError(f"camera registry on {topic} at {bootstrap}: {exc}") from exc
        self.start()
        with self._cond:
            if not self._cond.wait_for(lambda: self._ready, timeout=timeout_s):
                self.stop()
                self._producer.close()
                raise KafkaRegistryError(
                    f"Kafka at {bootstrap}: {topic} not read to its end within {timeout_s:g} s"
                )
        logger.info("camera registry %s at %s: %d camera(s)", topic, bootstrap, len(self.list()))

    def list(self) -> list[CameraRecord]:
        with self._cond:
            records = [rec for rec, _ in self._view.values() if rec is not None]
        return sorted(records, key=lambda r: r.camera_id)

    def get(self, camera_id: str) -> CameraRecord | None:
        with self._cond:
            return self._view.get(camera_id, (None, -1))[0]

    def put(self, spec: CameraSpec) -> CameraRecord:
        camera_id = camera_id_of(spec)
        spec = copy.deepcopy(spec)
        with self._write_lock:
            old = self.get(camera_id)
            if old is not None and old.spec == spec:
                return old
            record = CameraRecord(
                camera_id=camera_id,
                spec=spec,
                version=(old.version + 1) if old else 1,
                updated_ts_ms=int(time.time() * 1000),
            )
            offset = self._send(camera_id, record.model_dump_json().encode())
            self._remember(camera_id, record, offset)
        return record

    def delete(self, camera_id: str) -> bool:
        with self._write_lock:
            if self.get(camera_id) is None:
                return False
            self._remember(camera_id, None, self._send(camera_id, None))
        return True

    def close(self) -> None:
        self.stop()
        self._producer.close()

    def _send(self, camera_id: str, value: bytes | None) -> int:
        from kafka.errors import KafkaError

        try:
            future = self._producer.producer.send(self.topic, key=camera_id.encode(), value=value)
            return int(future.get(timeout=self.timeout_s).offset)
        except KafkaError as exc:
            what = "removal" if value is None else "change"
            raise KafkaRegistryError(
                f"Kafka at {self.bootstrap} did not take the {what} of camera {camera_id} "
                f"on {self.topic}: {exc}"
            ) from exc

    def _remember(self, camera_id: str, record: CameraRecord | None, offset: int) -> None:
        """Keeps the record unless a later one of the same key (same partition) is known already."""
        with self._cond:
            if self._view.get(camera_id, (None, -1))[1] < offset:
                self._view[camera_id] = (record, offset)

    def apply(self, records: Sequence[Any]) -> None:
        for rec in records:
            if rec.key is None:
                logger.warning("record without a key on %s offset %d ignored", self.topic, rec.offset)
                continue
            record = parse_camera_record(rec, self.topic)
            if rec.value is None or record is not None:
                self._remember(rec.key.decode(errors="replace"), record, rec.offset)

    def after_poll(self) -> None:
        if not self._ready and caught_up(self.consumer, self._end_offsets):
            with self._cond:
                self._ready = True
                self._cond.notify_all()
