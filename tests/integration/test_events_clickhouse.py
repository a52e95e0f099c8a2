"""ClickHouseStore against the real server deploy/local/start runs (Debian's 18.16): the shared store
contract (tests/store_contract.py) plus what is ClickHouse's own (version-aware DDL, FINAL reads, a missing
database), each test in a database of its own (dropped afterwards)."""

from __future__ import annotations

import logging

import pytest

from events.ports import EventQuery, StoreError
from events.store.clickhouse_store import ClickHouseStore
from events.store.sql import EVENT_COLUMNS, EVENTS_INDEX_GRANULARITY, event_row, events_layout_notice
from tests.integration.conftest import LocalServers
from tests.store_contract import StoreContract
from tests.unit.events_samples import newest_first, sample_events

pytestmark = pytest.mark.integration


class TestClickHouseStoreContract(StoreContract):
    """Dedupe, filters, pagination, get, counts, hostile text, threads (a connection each), refusals."""


def test_ddl_fits_the_server_version(store: ClickHouseStore) -> None:
    store.ensure_schema()  # idempotent
    ddl = str(store._execute(f"SHOW CREATE TABLE {store._db}.events")[0][0])
    assert ("LowCardinality" in ddl) is store.features.low_cardinality
    assert "ReplacingMergeTree" in ddl


def test_duplicate_rows_written_behind_the_check_are_never_returned(store: ClickHouseStore) -> None:
    """Two sinks racing can both write an id: pages (no FINAL) still show it once; counts count rows
    until the server merges the twins, then once."""
    events = sample_events()[:5]
    store.insert(events)
    columns = ", ".join(EVENT_COLUMNS)
    store._execute(f"INSERT INTO {store._db}.events ({columns}) VALUES", [event_row(e) for e in events])
    page = store.query(EventQuery(limit=100))
    assert page.events == newest_first(events)
    assert [e for o in range(5) for e in store.query(EventQuery(limit=1, offset=o)).events] == page.events
    assert page.total == 10
    store._execute(f"OPTIMIZE TABLE {store._db}.events FINAL")
    assert store.query(EventQuery(limit=100)).total == 5
    assert sum(store.count_by_type().values()) == 5


def test_new_tables_have_small_granules_and_old_ones_get_a_notice(
    store: ClickHouseStore, caplog: pytest.LogCaptureFixture
) -> None:
    ddl = str(store._execute(f"SHOW CREATE TABLE {store._db}.events")[0][0])
    assert f"index_granularity = {EVENTS_INDEX_GRANULARITY}" in ddl
    assert events_layout_notice(ddl) is None
    store._execute(f"DROP TABLE {store._db}.events")
    store._execute(ddl.replace(f"index_granularity = {EVENTS_INDEX_GRANULARITY}", "index_granularity = 8192"))
    with caplog.at_level(logging.WARNING, logger="events.store.clickhouse_store"):
        store.ensure_schema()
    assert any(
        "predates the history layout" in r.getMessage() and "it has 8192" in r.getMessage()
        for r in caplog.records
    )
    store.insert(sample_events()[:3])
    assert store.query(EventQuery(limit=2)).total == 3  # the old layout still serves


def test_a_missing_database_is_a_clear_store_error(local_servers: LocalServers) -> None:
    other = ClickHouseStore(
        local_servers.clickhouse_host, local_servers.clickhouse_port, database="anfang_missing_db"
    )
    try:
        with pytest.raises(StoreError, match=r"refused a query: .*anfang_missing_db"):
            other.query(EventQuery())
    finally:
        other.close()
