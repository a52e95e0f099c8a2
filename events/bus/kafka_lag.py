"""How far the sink's consumer group is behind the events topic: messages published and not yet
committed (stored), summed over partitions. Read at scrape time by the API's `/metrics`."""

from __future__ import annotations

import logging
import threading
from typing import Any

from events.bus.kafka_readers import open_consumer, topic_partitions
from events.ports import BusError

logger = logging.getLogger(__name__)


class KafkaGroupLag:
    """`lag()`: end offsets of `topic` minus the committed offsets of `group_id` (a partition the group
    never committed counts from its beginning offset). One consumer kept open; calls are serialised."""

    def __init__(self, bootstrap: str, group_id: str, topic: str, *, timeout_s: float = 10.0) -> None:
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._topic = topic
        self._lock = threading.Lock()
        # A group-less consumer with the group's id only for reading its commits (it never joins).
        self._consumer: Any = open_consumer(bootstrap, f"anfang-lag-{group_id}", timeout_s, group_id=group_id)

    def lag(self) -> int:
        """Messages of the topic the group has not committed yet; BusError when Kafka does not answer."""
        from kafka.errors import KafkaError

        with self._lock:
            try:
                partitions = topic_partitions(self._consumer, self._bootstrap, self._topic)
                ends = self._consumer.end_offsets(partitions)
                starts = self._consumer.beginning_offsets(partitions)
                behind = 0
                for tp in partitions:
                    committed = self._consumer.committed(tp)
                    behind += max(0, int(ends[tp]) - int(starts[tp] if committed is None else committed))
            except KafkaError as exc:
                raise BusError(
                    f"Kafka at {self._bootstrap}: cannot read the lag of {self._group_id}: {exc}"
                ) from exc
            return behind

    def close(self) -> None:
        with self._lock:
            self._consumer.close(autocommit=False)
