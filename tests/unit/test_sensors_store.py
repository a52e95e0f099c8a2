"""The `sensor_readings` table on chDB (embedded ClickHouse): created with the events table, insert and
query (window, limit, newest first, per sensor), a reading delivered twice stored once, hostile ids,
partitions by day; the events table is untouched. The same checks run on ClickHouse 18.16 in
tests/integration/test_sensors_clickhouse.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from events.sensors import ReadingQuery, SensorReading
from events.store.chdb_store import ChdbStore
from events.store.readings_sql import InvalidReadingQueryError

DAY_MS = 86_400_000
T0_MS = 1_795_000_000_000


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChdbStore]:
    s = ChdbStore(tmp_path / "chdb")
    s.ensure_schema()
    yield s
    s.close()


def series(
    sensor_id: str = "gas-1", n: int = 10, step_ms: int = 1000, t0_ms: int = T0_MS
) -> list[SensorReading]:
    return [SensorReading(sensor_id, t0_ms + i * step_ms, 10.0 + i / 4, "ppm") for i in range(n)]


def readings_contract(store: Any) -> None:
    """What both stores must do (called from the chDB test here and the ClickHouse integration test)."""
    mine, other = series(), series("gas-2", 3)
    assert store.insert_readings(mine + other) == 13
    assert store.insert_readings([]) == 0
    got = store.query_readings(ReadingQuery("gas-1", limit=100))
    assert got == sorted(mine, key=lambda r: -r.ts_ms)
    window = store.query_readings(ReadingQuery("gas-1", since_ms=T0_MS + 2000, until_ms=T0_MS + 4000))
    assert [r.ts_ms for r in window] == [T0_MS + 4000, T0_MS + 3000, T0_MS + 2000]
    assert [r.ts_ms for r in store.query_readings(ReadingQuery("gas-1", limit=2))] == [
        T0_MS + 9000,
        T0_MS + 8000,
    ]
    assert store.query_readings(ReadingQuery("nobody")) == []
    # delivered twice (a retried POST, Kafka at-least-once): returned once, the later value kept
    store.insert_readings([SensorReading("gas-1", T0_MS, 99.5, "ppm")])
    again = store.query_readings(ReadingQuery("gas-1", until_ms=T0_MS))
    assert again == [SensorReading("gas-1", T0_MS, 99.5, "ppm")]
    hostile = "x'); DROP TABLE sensor_readings; --\\"
    store.insert_readings(
        [SensorReading(hostile, T0_MS, -1e-9, "%LEL"), SensorReading("big", T0_MS, 1e300, "ppm")]
    )
    assert store.query_readings(ReadingQuery(hostile)) == [SensorReading(hostile, T0_MS, -1e-9, "%LEL")]
    assert store.query_readings(ReadingQuery("big"))[0].value == 1e300
    with pytest.raises(InvalidReadingQueryError, match="limit"):
        store.query_readings(ReadingQuery("gas-1", limit=0))
    with pytest.raises(InvalidReadingQueryError, match="after"):
        store.query_readings(ReadingQuery("gas-1", since_ms=5, until_ms=4))


def test_readings_contract(store: ChdbStore) -> None:
    readings_contract(store)


def test_partitioned_by_day_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "chdb"
    first = ChdbStore(path)
    first.ensure_schema()
    first.insert_readings(series(n=3, step_ms=DAY_MS))  # three UTC days
    parts = first._rows(
        "SELECT DISTINCT partition FROM system.parts WHERE database = 'anfang' AND table = 'sensor_readings'"
    )
    assert len(parts) == 3 and all(len(str(p[0])) == 8 for p in parts)  # YYYYMMDD
    first.close()
    second = ChdbStore(path)
    try:
        second.ensure_schema()  # idempotent
        assert len(second.query_readings(ReadingQuery("gas-1"))) == 3
        assert second.count_by_type() == {}  # the events table is there and untouched
    finally:
        second.close()
