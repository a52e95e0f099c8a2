"""The sink's lag as `/metrics` reads it in distributed mode: published minus committed, per group."""

from __future__ import annotations

import time
import uuid

import pytest

from events.bus.kafka_bus import KafkaEventConsumer, KafkaPublisher, ensure_topics
from events.bus.kafka_lag import KafkaGroupLag
from tests.integration.conftest import LocalServers
from tests.unit.events_samples import make_event

pytestmark = pytest.mark.integration


def test_lag_counts_what_the_group_has_not_committed(local_servers: LocalServers) -> None:
    bootstrap, tag = local_servers.kafka_bootstrap, uuid.uuid4().hex[:8]
    topic, group = f"anfang.lag-{tag}.events", f"anfang-lag-{tag}"
    ensure_topics(bootstrap, partitions=3, topics=(topic,))
    lag = KafkaGroupLag(bootstrap, group, topic)
    publisher = KafkaPublisher(bootstrap, topic=topic)
    consumer = KafkaEventConsumer(bootstrap, group_id=group, topic=topic)
    try:
        assert lag.lag() == 0
        for i in range(7):
            publisher.publish(make_event(i, camera_id=f"cam-{i % 3}"))
        publisher.flush()
        assert lag.lag() == 7  # nothing committed yet: everything counts
        got = 0
        deadline = time.monotonic() + 30
        while got < 7 and time.monotonic() < deadline:
            got += len(consumer.poll(timeout_s=1.0, max_records=100).events)
        assert got == 7
        consumer.commit()
        assert lag.lag() == 0
        publisher.publish(make_event(99))
        publisher.flush()
        assert lag.lag() == 1
    finally:
        consumer.close()
        publisher.close()
        lag.close()
