"""ClickHouseStore against the real server deploy/local/start runs (Debian's 18.16): the shared store
contract (tests/store_contract.py) plus what is ClickHouse's own (version-aware DDL, FINAL reads, a missing
database), each test in a database of its own (dropped afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from events.ports import EventQuery, StoreError
from events.store.clickhouse_store import ClickHouseStore
from events.store.sql import EVENT_COLUMNS, event_row
from tests.integration.conftest import LocalServers
from tests.store_contract import StoreContract
from tests.unit.events_samples import newest_first, sample_events

pytestmark = pytest.mark.integration


@pytest.fixture
def store(local_servers: LocalServers) -> Iterator[ClickHouseStore]:
    database = f"anfang_test_{uuid.uuid4().hex[:10]}"
    s = ClickHouseStore(local_servers.clickhouse_host, local_servers.clickhouse_port, database=database)
    try:
        s.ensure_schema()
        yield s
    finally:
        s._execute(f"DROP DATABASE IF EXISTS {database}")
        s.close()


class TestClickHouseStoreContract(StoreContract):
    """Dedupe, filters, pagination, get, counts, hostile text, threads (a connection each), refusals."""


def test_ddl_fits_the_server_version(store: ClickHouseStore) -> None:
    store.ensure_schema()  # idempotent
    ddl = str(store._execute(f"SHOW CREATE TABLE {store._db}.events")[0][0])
    assert ("LowCardinality" in ddl) is store.features.low_cardinality
    assert "ReplacingMergeTree" in ddl


def test_duplicate_rows_written_behind_the_check_are_never_returned(store: ClickHouseStore) -> None:
    """Two sinks racing can both write an id: reads (FINAL) still show it once."""
    events = sample_events()[:5]
    store.insert(events)
    columns = ", ".join(EVENT_COLUMNS)
    store._execute(f"INSERT INTO {store._db}.events ({columns}) VALUES", [event_row(e) for e in events])
    assert store.query(EventQuery(limit=100)).total == 5
    assert sum(store.count_by_type().values()) == 5
    assert store.query(EventQuery(limit=100)).events == newest_first(events)


def test_a_missing_database_is_a_clear_store_error(local_servers: LocalServers) -> None:
    other = ClickHouseStore(
        local_servers.clickhouse_host, local_servers.clickhouse_port, database="anfang_missing_db"
    )
    try:
        with pytest.raises(StoreError, match=r"refused a query: .*anfang_missing_db"):
            other.query(EventQuery())
    finally:
        other.close()
