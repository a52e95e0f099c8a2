"""Integration tests run against the real servers that `deploy/local/start` runs (the Makefile and
tests/run.sh start them first). Missing servers are a failure, not a skip: CI must not pass green
without having tested anything."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from events.store.clickhouse_store import ClickHouseStore


@dataclass(frozen=True)
class LocalServers:
    kafka_bootstrap: str
    clickhouse_host: str
    clickhouse_port: int


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(2.0)
        return s.connect_ex((host, port)) == 0


@pytest.fixture(scope="session")
def local_servers() -> LocalServers:
    """The Kafka broker and the ClickHouse server on 127.0.0.1 (ports from ANFANG_*_PORT like deploy/)."""
    kafka_port = int(os.environ.get("ANFANG_KAFKA_PORT", "9092"))
    clickhouse_port = int(os.environ.get("ANFANG_CLICKHOUSE_PORT", "9000"))
    down = [
        f"{name} on 127.0.0.1:{port}"
        for name, port in (("Kafka", kafka_port), ("ClickHouse", clickhouse_port))
        if not _listening("127.0.0.1", port)
    ]
    if down:
        pytest.fail(
            f"servers not running: run deploy/local/start ({', '.join(down)} not reachable)", pytrace=False
        )
    return LocalServers(f"127.0.0.1:{kafka_port}", "127.0.0.1", clickhouse_port)


@contextlib.contextmanager
def fresh_clickhouse_store(servers: LocalServers, prefix: str = "anfang_test") -> Iterator[ClickHouseStore]:
    """A store on a database of its own (schema in place), dropped afterwards."""
    from events.store.clickhouse_store import ClickHouseStore

    database = f"{prefix}_{uuid.uuid4().hex[:10]}"
    store = ClickHouseStore(servers.clickhouse_host, servers.clickhouse_port, database=database)
    try:
        store.ensure_schema()
        yield store
    finally:
        store._execute(f"DROP DATABASE IF EXISTS {database}")
        store.close()


@pytest.fixture
def store(local_servers: LocalServers) -> Iterator[ClickHouseStore]:
    """A fresh ClickHouse-server store per test (a module may define its own `store` instead)."""
    with fresh_clickhouse_store(local_servers) as s:
        yield s


@pytest.fixture
def runner(store: ClickHouseStore) -> ClickHouseStore:
    """The test's store as the `SqlRunner` of a table module's store (the record store contracts)."""
    return store
