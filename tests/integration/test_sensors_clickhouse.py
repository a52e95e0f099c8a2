"""The `sensor_readings` table on the real ClickHouse server deploy/local/start runs (Debian's 18.16):
the same readings contract as chDB (tests/unit/test_sensors_store.py), the DDL for that version and
partitions by UTC day, in a database of the test's own."""

from __future__ import annotations

import pytest

from events.sensors import ReadingQuery, SensorReading
from events.store.clickhouse_store import ClickHouseStore
from tests.unit.test_sensors_store import DAY_MS, T0_MS, readings_contract

pytestmark = pytest.mark.integration


def test_readings_contract(store: ClickHouseStore) -> None:
    readings_contract(store)


def test_ddl_fits_the_server_and_partitions_by_day(store: ClickHouseStore) -> None:
    store.ensure_schema()  # idempotent
    ddl = str(store._execute(f"SHOW CREATE TABLE {store._db}.sensor_readings")[0][0])
    assert "ReplacingMergeTree(received_ts_ms)" in ddl and "toYYYYMMDD" in ddl
    assert ("LowCardinality" in ddl) is store.features.low_cardinality
    store.insert_readings([SensorReading("t-1", T0_MS + i * DAY_MS, 20.0 + i, "C") for i in range(3)])
    parts = store._execute(
        "SELECT DISTINCT partition FROM system.parts WHERE database = %(db)s AND table = 'sensor_readings'",
        {"db": store._db},
    )
    assert sorted(str(p[0]) for p in parts) == ["20261118", "20261119", "20261120"]
    assert [r.value for r in store.query_readings(ReadingQuery("t-1"))] == [22.0, 21.0, 20.0]
