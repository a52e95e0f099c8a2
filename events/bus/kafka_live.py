"""The live feed in distributed mode: every API instance reads the events topic for itself.

Each instance must see every event (its clients may watch any camera), so the instances must not
share partitions the way the sink's consumer group does. `KafkaLiveFeed` is a consumer of its own,
assigned every partition of the topic at its end (only events published from now on), that never
commits: the same as a consumer group per instance, without the group join delay (the broker's
initial rebalance delay, 3 s by default, during which events would be missed) and without leaving a
dead group behind on the broker at every restart. A background thread parses each record
(`events.dlq.parse_message`, like the sink) and publishes the event to the broadcaster; a record that
is not an event is logged and skipped (the sink sends it to the dead-letter topic).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

from events.bus.broadcast import EventBroadcaster
from events.bus.kafka_readers import BackgroundReader, open_consumer, topic_partitions
from events.dlq import parse_message
from events.ports import EVENTS_TOPIC, DeadLetter

logger = logging.getLogger(__name__)


def live_client_id() -> str:
    """A client id naming this instance (host and pid), as the broker's logs and metrics show it."""
    return f"anfang-live-{socket.gethostname()}-{os.getpid()}"


class KafkaLiveFeed(BackgroundReader):
    """Feeds `broadcaster` with the events published to `topic` from now on, on a daemon thread."""

    def __init__(
        self,
        bootstrap: str,
        broadcaster: EventBroadcaster,
        *,
        topic: str = EVENTS_TOPIC,
        client_id: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        consumer = open_consumer(bootstrap, client_id or live_client_id(), timeout_s)
        try:
            partitions = topic_partitions(consumer, bootstrap, topic)
            consumer.assign(partitions)
            consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the end offsets now: "from now on" means from this call
                consumer.position(tp, timeout_ms=max(1, int(timeout_s * 1000)))
        except BaseException:
            consumer.close(autocommit=False)
            raise
        super().__init__(consumer, bootstrap, topic, name="kafka-live")
        self.broadcaster = broadcaster
        self.received = 0  # events handed to the broadcaster
        self.skipped = 0  # records that were not events

    def apply(self, records: Sequence[Any]) -> None:
        for rec in records:
            parsed = parse_message(
                rec.value, rec.key, f"{rec.topic} partition {rec.partition} offset {rec.offset}"
            )
            if isinstance(parsed, DeadLetter):
                self.skipped += 1
                logger.warning("live feed: skipped a record that is not an event: %s", parsed.reason)
                continue
            self.received += 1
            self.broadcaster.publish(parsed)

    def close(self) -> None:
        self.stop()
