"""Kafka reading helpers shared by the camera registry, the camera feed and the health view.

`open_consumer` never commits offsets nor creates topics; `BackgroundReader` polls a group-less
consumer on a daemon thread and hands each batch to `apply`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from events.bus.kafka_bus import _unreachable
from events.cameras import CameraRecord
from events.ports import BusError

logger = logging.getLogger(__name__)

#: How long the background readers wait in one poll (also how fast `close()` returns).
_POLL_MS = 200


def open_consumer(bootstrap: str, client_id: str, timeout_s: float, **config: Any) -> Any:
    """A KafkaConsumer that never commits nor creates topics; BusError naming the address if unreachable."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        return KafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            enable_auto_commit=False,
            allow_auto_create_topics=False,
            bootstrap_timeout_ms=max(1, int(timeout_s * 1000)),
            **config,
        )
    except KafkaError as exc:
        raise _unreachable(bootstrap, exc) from exc


def topic_partitions(consumer: Any, bootstrap: str, topic: str) -> list[Any]:
    """Every partition of `topic`; BusError when the topic does not exist."""
    from kafka import TopicPartition
    from kafka.errors import KafkaError

    try:
        partitions = consumer.partitions_for_topic(topic)
    except KafkaError as exc:
        raise BusError(f"Kafka at {bootstrap}: cannot read the partitions of {topic}: {exc}") from exc
    if not partitions:
        raise BusError(f"Kafka at {bootstrap} has no topic {topic} (create it with ensure_topics)")
    return [TopicPartition(topic, p) for p in sorted(partitions)]


def caught_up(consumer: Any, end_offsets: Mapping[Any, int]) -> bool:
    """Whether the consumer's position has reached `end_offsets` on every partition (never blocks)."""
    for tp, end in end_offsets.items():
        position = consumer.position(tp, timeout_ms=0)
        if position is None or position < end:
            return False
    return True


class BackgroundReader:
    """A background thread polling a group-less consumer assigned every partition of a topic."""

    def __init__(self, consumer: Any, bootstrap: str, topic: str, name: str) -> None:
        self.consumer = consumer
        self.bootstrap = bootstrap
        self.topic = topic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def apply(self, records: Sequence[Any]) -> None:
        """Called on the reader's thread with each batch of records, in offset order per partition."""
        raise NotImplementedError

    def _run(self) -> None:
        from kafka.errors import KafkaError

        while not self._stop.is_set():
            try:
                polled = self.consumer.poll(timeout_ms=_POLL_MS)
                for records in polled.values():
                    self.apply(records)
                self.after_poll()
            except Exception as exc:  # the reader must outlive a bad record or a broker hiccup
                logger.warning(
                    "reading %s at %s failed (retrying in 1 s): %s",
                    self.topic,
                    self.bootstrap,
                    exc,
                    exc_info=not isinstance(exc, KafkaError),
                )
                self._stop.wait(1.0)

    def after_poll(self) -> None:
        """Called on the reader's thread after every poll."""

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self.consumer.close(autocommit=False)


def parse_camera_record(rec: Any, topic: str) -> CameraRecord | None:
    """The CameraRecord of a Kafka record; None for a tombstone or (logged) a value that is not one."""
    if rec.value is None:
        return None
    try:
        return CameraRecord.model_validate_json(rec.value)
    except ValidationError as exc:
        where = f"{topic} partition {rec.partition} offset {rec.offset}"
        logger.warning("not a camera record at %s, ignored: %s", where, " ".join(str(exc).split()))
        return None
