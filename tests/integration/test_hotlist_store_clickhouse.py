"""Plate hotlists on the real ClickHouse server deploy/local/start runs (Debian's 18.16: ALTER DELETE
mutations without `mutations_sync`): the same contract as chDB (tests/unit/test_hotlist_store.py), in a
database of the test's own."""

from __future__ import annotations

import pytest

from events.store.clickhouse_store import ClickHouseStore
from events.store.hotlists_sql import ENTRIES_TABLE, HOTLISTS_TABLE, HotlistSqlStore
from tests.hotlist_store_contract import HotlistStoreContract

pytestmark = pytest.mark.integration


@pytest.fixture
def runner(store: ClickHouseStore) -> ClickHouseStore:
    return store


@pytest.fixture
def hotlists(store: ClickHouseStore) -> HotlistSqlStore:
    hotlists = HotlistSqlStore(store)
    hotlists.ensure_schema()
    hotlists.ensure_schema()  # idempotent
    return hotlists


class TestHotlistStoreOnClickHouse(HotlistStoreContract):
    pass


def test_ddl_fits_the_server(hotlists: HotlistSqlStore, store: ClickHouseStore) -> None:
    for table in (HOTLISTS_TABLE, ENTRIES_TABLE):
        ddl = str(store._execute(f"SHOW CREATE TABLE {store.database}.{table}")[0][0])
        assert "ReplacingMergeTree(version)" in ddl and "LowCardinality" not in ddl
