"""Plate hotlists on a real server, ClickHouse 18.16 (Debian's, run by deploy/local/start): the contract
of tests/hotlist_store_contract.py, as tests/unit/test_hotlist_store.py runs it on chDB, in a fresh
database per test, and DDL the old server accepts."""

from __future__ import annotations

import pytest

from events.store.clickhouse_store import ClickHouseStore
from events.store.hotlists_sql import ENTRIES_TABLE, HOTLISTS_TABLE, HotlistSqlStore
from tests.hotlist_store_contract import HotlistStoreContract
from tests.store_fixtures import record_store_fixture

pytestmark = pytest.mark.integration


hotlists = record_store_fixture(HotlistSqlStore, empty=False)  # over conftest's `runner`: a database per test


class TestHotlistStoreOnClickHouse(HotlistStoreContract):
    pass


def test_ddl_fits_the_server(hotlists: HotlistSqlStore, store: ClickHouseStore) -> None:
    for table in (HOTLISTS_TABLE, ENTRIES_TABLE):
        ddl = str(store._execute(f"SHOW CREATE TABLE {store.database}.{table}")[0][0])
        assert "ReplacingMergeTree(version)" in ddl and "LowCardinality" not in ddl
