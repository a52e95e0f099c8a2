"""Worker health over Kafka: `KafkaHeartbeatPublisher` and `KafkaHealthView` on the health topic.

Heartbeats are `WorkerHeartbeat` JSON, key = worker id. The view reads every partition without a
group, from `lookback_s` ago, keeps the newest heartbeat of each worker and marks the cameras of a
worker silent for more than `stale_after_s` offline (see `merge_heartbeats`). Staleness compares the
worker's `ts_ms` with this machine's clock: keep the clocks of the machines within a second or so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from events.bus.kafka_bus import _Producer
from events.bus.kafka_readers import BackgroundReader, open_consumer, topic_partitions
from events.cameras import CameraHealth, WorkerHeartbeat, merge_heartbeats
from events.ports import HEALTH_TOPIC, BusError

logger = logging.getLogger(__name__)


class KafkaHeartbeatPublisher:
    """Publishes each heartbeat and waits for the ack (BusError when the broker does not take it)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = HEALTH_TOPIC,
        *,
        client_id: str = "anfang-heartbeat",
        timeout_s: float = 10.0,
    ) -> None:
        self._topic = topic
        self._timeout_s = timeout_s
        self._producer = _Producer(bootstrap, client_id, timeout_s, linger_ms=0)

    def publish(self, heartbeat: WorkerHeartbeat) -> None:
        what = f"heartbeat of worker {heartbeat.worker_id}"
        self._producer.send(self._topic, heartbeat.worker_id.encode(), heartbeat.to_json_bytes(), what)
        self._producer.flush(self._topic, self._timeout_s)

    def close(self) -> None:
        self._producer.close()


class KafkaHealthView(BackgroundReader):
    """`HealthView` on the health topic: the newest heartbeat of each worker, read in the background."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = HEALTH_TOPIC,
        *,
        stale_after_s: float = 15.0,
        lookback_s: float = 300.0,
        client_id: str = "anfang-health-view",
        timeout_s: float = 10.0,
    ) -> None:
        from kafka.errors import KafkaError

        if stale_after_s <= 0:
            raise ValueError(f"stale_after_s must be > 0, got {stale_after_s}")
        self.stale_after_s = stale_after_s
        consumer = open_consumer(bootstrap, client_id, timeout_s)
        super().__init__(consumer, bootstrap, topic, name=f"health-{topic}")
        self._lock = threading.Lock()
        self._latest: dict[str, WorkerHeartbeat] = {}
        try:
            partitions = topic_partitions(consumer, bootstrap, topic)
            consumer.assign(partitions)
            since_ms = int((time.time() - lookback_s) * 1000)
            found = consumer.offsets_for_times(
                {tp: since_ms for tp in partitions}, timeout_ms=int(timeout_s * 1000)
            )
            for tp in partitions:
                if found.get(tp) is None:
                    consumer.seek_to_end(tp)
                else:
                    consumer.seek(tp, found[tp].offset)
        except (KafkaError, BusError) as exc:
            consumer.close(autocommit=False)
            raise BusError(f"health view on {topic} at {bootstrap}: {exc}") from exc
        self.start()

    def latest(self) -> Mapping[str, CameraHealth]:
        now_ms = time.time() * 1000
        with self._lock:
            pairs = [(hb, max(0.0, (now_ms - hb.ts_ms) / 1000)) for hb in self._latest.values()]
        return merge_heartbeats(pairs, self.stale_after_s)

    def workers(self) -> dict[str, WorkerHeartbeat]:
        """The latest heartbeat of each worker heard from (worker id -> heartbeat)."""
        with self._lock:
            return dict(self._latest)

    def close(self) -> None:
        self.stop()

    def apply(self, records: Sequence[Any]) -> None:
        for rec in records:
            if rec.value is None:
                continue
            try:
                heartbeat = WorkerHeartbeat.from_json_bytes(rec.value)
            except ValidationError as exc:
                where = f"{self.topic} partition {rec.partition} offset {rec.offset}"
                logger.warning("not a heartbeat at %s, ignored: %s", where, " ".join(str(exc).split()))
                continue
            with self._lock:
                previous = self._latest.get(heartbeat.worker_id)
                if previous is None or previous.ts_ms <= heartbeat.ts_ms:
                    self._latest[heartbeat.worker_id] = heartbeat
