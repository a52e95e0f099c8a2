"""Servers that are not there give a one-line error naming the address, within the connect timeout."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from events.bus.kafka_bus import KafkaDeadLetterPublisher, KafkaEventConsumer, KafkaPublisher, ensure_topics
from events.ports import BusError, StoreError
from events.store.clickhouse_store import ClickHouseStore

# kafka-python 3 loads its protocol schemas with a deprecated importlib.resources call.
pytestmark = pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


KAFKA_CLIENTS: dict[str, Callable[[str], object]] = {
    "publisher": lambda b: KafkaPublisher(b, timeout_s=1.0),
    "consumer": lambda b: KafkaEventConsumer(b, group_id="g", timeout_s=1.0),
    "dlq": lambda b: KafkaDeadLetterPublisher(b, timeout_s=1.0),
    "topics": lambda b: ensure_topics(b, timeout_s=1.0),
}


@pytest.mark.parametrize("client", list(KAFKA_CLIENTS))
def test_kafka_down_is_a_bus_error_within_the_timeout(client: str) -> None:
    bootstrap = f"127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(BusError, match=f"^cannot reach Kafka at {bootstrap}: "):
        KAFKA_CLIENTS[client](bootstrap)
    assert time.monotonic() - started < 5.0


def test_clickhouse_down_is_a_store_error_at_once() -> None:
    port = _closed_port()
    started = time.monotonic()
    with pytest.raises(StoreError, match=f"^cannot reach ClickHouse at 127.0.0.1:{port}: "):
        ClickHouseStore(port=port, connect_timeout_s=2.0)
    assert time.monotonic() - started < 3.0
