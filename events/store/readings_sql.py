"""SQL of the `sensor_readings` table, shared by the chDB and the ClickHouse-server stores.

ReplacingMergeTree partitioned by UTC day and ordered by (sensor, time): a reading delivered twice
(a retried POST, Kafka's at-least-once) is one row once merged, and reads use FINAL, so it is never
returned twice. Works on ClickHouse 18.16 (no DateTime64, no TTL) and chDB 26.x alike.
"""

from __future__ import annotations

from events.sensors import ReadingQuery, SensorReading
from events.store.sql import Binder, ServerFeatures, check_identifier

READINGS_TABLE = "sensor_readings"
READING_COLUMNS: tuple[str, ...] = ("sensor_id", "ts_ms", "value", "unit", "received_ts_ms")
ReadingRow = tuple[str, int, float, str, int]


class InvalidReadingQueryError(ValueError):
    """A ReadingQuery the store refuses before asking the database."""


def create_readings_table_sql(database: str, features: ServerFeatures) -> str:
    low = "LowCardinality(String)" if features.low_cardinality else "String"
    return "\n".join(
        [
            f"CREATE TABLE IF NOT EXISTS {check_identifier(database)}.{READINGS_TABLE} (",
            "    sensor_id String,",
            "    ts_ms Int64,",
            "    value Float64,",
            f"    unit {low},",
            "    received_ts_ms Int64",
            ")",
            "ENGINE = ReplacingMergeTree(received_ts_ms)",
            "PARTITION BY toYYYYMMDD(toDateTime(intDiv(ts_ms, 1000), 'UTC'))",
            "ORDER BY (sensor_id, ts_ms)",
        ]
    )


def reading_row(reading: SensorReading, received_ts_ms: int) -> ReadingRow:
    return (reading.sensor_id, reading.ts_ms, float(reading.value), reading.unit, received_ts_ms)


def check_reading_query(q: ReadingQuery, max_limit: int) -> None:
    if not 1 <= q.limit <= max_limit:
        raise InvalidReadingQueryError(f"limit must be 1..{max_limit}, got {q.limit}")
    if q.since_ms is not None and q.until_ms is not None and q.since_ms > q.until_ms:
        raise InvalidReadingQueryError(f"since_ms ({q.since_ms}) is after until_ms ({q.until_ms})")


def readings_sql(database: str, q: ReadingQuery, bind: Binder) -> str:
    """One sensor's readings in a window, newest first."""
    conds = [f"sensor_id = {bind(q.sensor_id)}"]
    if q.since_ms is not None:
        conds.append(f"ts_ms >= {bind(q.since_ms)}")
    if q.until_ms is not None:
        conds.append(f"ts_ms <= {bind(q.until_ms)}")
    return (
        f"SELECT sensor_id, ts_ms, value, unit FROM {database}.{READINGS_TABLE} FINAL "
        f"WHERE {' AND '.join(conds)} ORDER BY ts_ms DESC LIMIT {int(q.limit)}"
    )


def parse_reading(row: list[object] | tuple[object, ...]) -> SensorReading:
    sensor_id, ts_ms, value, unit = row
    return SensorReading(str(sensor_id), int(str(ts_ms)), float(str(value)), str(unit))
