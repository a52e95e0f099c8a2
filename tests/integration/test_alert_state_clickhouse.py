"""The `alert_state` table on the real ClickHouse server deploy/local/start runs (Debian's 18.16): the same
contract as on chDB (tests/unit/test_alert_state_sql.py) with the driver's parameters, the DDL for that
version, latest wins by version, one winner among racing appends, and the status/assignee filter over
`events`, in a database of the test's own."""

from __future__ import annotations

import pytest

from events.store.alert_state_sql import AlertStateSqlStore
from events.store.clickhouse_store import ClickHouseStore
from tests.unit.test_alert_state_sql import (
    alert_state_contract,
    latest_wins_whatever_the_write_order,
    racing_appends_one_wins,
    state_filter_selects_the_right_events,
)

pytestmark = pytest.mark.integration


def test_contract(store: ClickHouseStore) -> None:
    alert_state_contract(store)


def test_latest_wins_whatever_the_write_order(store: ClickHouseStore) -> None:
    latest_wins_whatever_the_write_order(store)


def test_racing_appends_one_wins(store: ClickHouseStore) -> None:
    racing_appends_one_wins(store)


def test_state_filter_selects_the_right_events(store: ClickHouseStore) -> None:
    state_filter_selects_the_right_events(store)


def test_ddl_fits_the_server(store: ClickHouseStore) -> None:
    AlertStateSqlStore(store).ensure_schema()
    ddl = str(store._execute(f"SHOW CREATE TABLE {store._db}.alert_state")[0][0])
    assert "MergeTree" in ddl and "ORDER BY (event_id, version)" in ddl
    assert ("LowCardinality" in ddl) is store.features.low_cardinality
