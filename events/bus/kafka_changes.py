"""Changes of what workers hold in memory (face galleries, plate hotlists) over compacted Kafka topics.

A compacted topic carries one record per key (for faces `watchlist:<id>`, `identity:<id>`,
`negative:<id>`; see `events.faces.change_key`): the latest change per key is the whole state.
- `KafkaChangePublisher` (API): sends a change and waits for the broker's ack.
- `KafkaChangeReader` (pipeline workers, the API's search): reads the topic from the beginning without
  a group and hands every change to a callback (the worker's `FaceGallery.apply`) as it arrives; the
  constructor returns once the reader has caught up with the end of the topic.
`KafkaGalleryPublisher` / `KafkaGalleryReader` are these for face gallery changes. An erased identity's
record is replaced by its removal (no vectors), so after compaction the topic holds no encoding of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from events.bus.kafka_bus import _Producer
from events.bus.kafka_readers import BackgroundReader, caught_up, open_consumer, topic_partitions
from events.faces import (
    FACES_TOPIC,
    GalleryMessage,
    IdentityChange,
    NegativeChange,
    WatchlistChange,
    change_key,
)
from events.ports import BusError

logger = logging.getLogger(__name__)

AnyChange = WatchlistChange | IdentityChange | NegativeChange


C = TypeVar("C")


class KafkaChangePublisher(Generic[C]):
    """Publishes changes as `encode(change)` under `key(change)`, each acknowledged before returning."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        key: Callable[[C], str],
        encode: Callable[[C], bytes],
        client_id: str,
        timeout_s: float = 10.0,
    ) -> None:
        self.bootstrap, self.topic, self.timeout_s = bootstrap, topic, timeout_s
        self._key, self._encode = key, encode
        # a whole hotlist of 5,000 entries is 1-4 MB of JSON, ~0.1 MB gzipped: under the topic's 1 MB limit
        self._producer = _Producer(
            bootstrap, client_id, timeout_s, linger_ms=0, compression="gzip", max_request_bytes=8 * 2**20
        )

    def publish(self, change: C) -> None:
        from kafka.errors import KafkaError

        key = self._key(change)
        try:
            future = self._producer.producer.send(self.topic, key=key.encode(), value=self._encode(change))
            future.get(timeout=self.timeout_s)
        except KafkaError as exc:
            raise BusError(
                f"Kafka at {self.bootstrap} did not take change {key} on {self.topic}: {exc}"
            ) from exc

    def close(self) -> None:
        self._producer.close()


class KafkaChangeReader(BackgroundReader, Generic[C]):
    """Reads every change of a compacted topic (`decode(value)`, ValidationError = skipped and logged)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        on_change: Callable[[C], None],
        *,
        decode: Callable[[bytes], C],
        client_id: str,
        timeout_s: float = 10.0,
    ) -> None:
        from kafka.errors import KafkaError

        consumer = open_consumer(bootstrap, client_id, timeout_s)
        super().__init__(consumer, bootstrap, topic, name=f"changes-{topic}")
        self._on_change, self._decode = on_change, decode
        self._cond = threading.Condition()
        self._ready = False
        self.changes = 0
        try:
            partitions = topic_partitions(consumer, bootstrap, topic)
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            self._end_offsets = consumer.end_offsets(partitions, timeout_ms=int(timeout_s * 1000))
        except (KafkaError, BusError) as exc:
            consumer.close(autocommit=False)
            raise BusError(f"reading {topic} at {bootstrap}: {exc}") from exc
        self.start()
        with self._cond:
            if not self._cond.wait_for(lambda: self._ready, timeout=timeout_s):
                self.stop()
                raise BusError(f"Kafka at {bootstrap}: {topic} not read to its end within {timeout_s:g} s")
        logger.info("%s at %s: %d change(s) read", topic, bootstrap, self.changes)

    def apply(self, records: Sequence[Any]) -> None:
        for rec in records:
            if rec.value is None:
                continue
            try:
                change = self._decode(rec.value)
            except ValidationError as exc:
                where = f"{self.topic} partition {rec.partition} offset {rec.offset}"
                logger.warning("not a change record at %s, ignored: %s", where, " ".join(str(exc).split()))
                continue
            self._on_change(change)
            self.changes += 1

    def after_poll(self) -> None:
        if not self._ready and caught_up(self.consumer, self._end_offsets):
            with self._cond:
                self._ready = True
                self._cond.notify_all()

    def close(self) -> None:
        self.stop()


def _encode_gallery(change: AnyChange) -> bytes:
    return GalleryMessage(change=change).model_dump_json().encode()


def _decode_gallery(value: bytes) -> AnyChange:
    return GalleryMessage.model_validate_json(value).change


def KafkaGalleryPublisher(  # noqa: N802 - reads as the class it builds
    bootstrap: str, topic: str = FACES_TOPIC, *, client_id: str = "anfang-faces", timeout_s: float = 10.0
) -> KafkaChangePublisher[AnyChange]:
    """Face gallery changes to the faces topic."""
    return KafkaChangePublisher(
        bootstrap, topic, key=change_key, encode=_encode_gallery, client_id=client_id, timeout_s=timeout_s
    )


def KafkaGalleryReader(  # noqa: N802
    bootstrap: str,
    on_change: Callable[[AnyChange], None],
    topic: str = FACES_TOPIC,
    *,
    client_id: str = "anfang-faces-reader",
    timeout_s: float = 10.0,
) -> KafkaChangeReader[AnyChange]:
    """Face gallery changes from the faces topic, into `on_change` (a worker's `FaceGallery.apply`)."""
    return KafkaChangeReader(
        bootstrap, topic, on_change, decode=_decode_gallery, client_id=client_id, timeout_s=timeout_s
    )
