"""SQL shared by the chDB and the ClickHouse-server stores: DDL per server version, query builders, quoting.

One text for both engines: builders take a `Binder` that turns a value into SQL text, either a
clickhouse-driver placeholder (`%(p0)s`, escaped client-side by the driver) or an inline literal from
`sql_literal` (chDB). The shared SQL therefore never contains a literal `%`.

Targets: ClickHouse 18.16 (Debian's server: no LowCardinality without a setting, no TTL, no codecs,
no skip indices, no window functions) and modern ClickHouse (chDB 26.x, servers 20.3+).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from events.ports import EventQuery
from events.schema import Event

#: Values `sql_literal` / the binders accept. A tuple renders as `(a, b)` (for IN), a list as `[a, b]`.
SqlValue = (
    None
    | bool
    | int
    | float
    | str
    | bytes
    | uuid.UUID
    | tuple["SqlValue", ...]
    | list[float]
    | list[int]
    | list[str]
    | list["SqlValue"]
)

EVENTS_TABLE = "events"
#: Rows per primary-key granule of new `events` tables (ClickHouse's default, 8192, suits scans, not pages).
EVENTS_INDEX_GRANULARITY = 256
#: Sort (= primary) key of new `events` tables: the UTC hour first (see `create_events_table_sql`).
EVENTS_SORT_KEY = "intDiv(ts_ms, 3600000), camera_id, ts_ms, event_id"
#: Pre-aggregated counts (modern servers): `count()` queries filtering and grouping by these use it.
COUNTS_PROJECTION = "counts"
COUNTS_PROJECTION_KEYS = ("type", "alert", "site_id", "camera_id")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_VERSION = re.compile(r"^(\d+)\.(\d+)")
_GRANULARITY = re.compile(r"index_granularity\s*=\s*(\d+)")
#: str.translate table for ClickHouse string literals (quote, backslash and control characters).
_STRING_ESCAPES = str.maketrans(
    {"\\": "\\\\", "'": "\\'", "\0": "\\0", "\b": "\\b", "\f": "\\f", "\r": "\\r", "\n": "\\n", "\t": "\\t"}
)
#: str.translate table for bytes (decoded as latin-1) in a string literal: `\xHH` for every byte but
#: printable ASCII, and for the quote, the backslash and `%` (so the literal is safe in driver queries).
_BYTE_ESCAPES = {b: f"\\x{b:02X}" for b in range(256) if not 32 <= b < 127 or chr(b) in "'\\%"}


class InvalidQueryError(ValueError):
    """An EventQuery the store refuses before asking the database (bad limit, offset, window)."""


class Binder(Protocol):
    def __call__(self, value: SqlValue) -> str:
        """SQL text standing for `value` in the query being built."""
        ...


def sql_literal(value: SqlValue) -> str:
    """`value` as a ClickHouse literal; the one quoting helper for engines without client-side params."""
    if isinstance(value, str):  # first: the most common value of an inserted row
        return "'" + value.translate(_STRING_ESCAPES) + "'"
    if isinstance(value, bytes):  # a String column holding binary data (an image)
        return "'" + value.decode("latin-1").translate(_BYTE_ESCAPES) + "'"
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, uuid.UUID):
        return f"'{value}'"
    if isinstance(value, tuple):
        if not value:
            raise ValueError("an empty tuple has no SQL literal (IN () is invalid)")
        return "(" + ", ".join(sql_literal(v) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise TypeError(f"no SQL literal for a {type(value).__name__}: {value!r}")


class DriverParams:
    """A `Binder` for clickhouse-driver: collects the values and returns `%(pN)s` placeholders (bytes,
    which the driver cannot escape, are inlined as a literal without `%`)."""

    def __init__(self) -> None:
        self.params: dict[str, SqlValue] = {}

    def __call__(self, value: SqlValue) -> str:
        if isinstance(value, bytes):
            return sql_literal(value)
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"


def check_identifier(name: str, what: str = "database name") -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{what} must match {_IDENTIFIER.pattern}, got {name!r}")
    return name


@dataclass(frozen=True, slots=True)
class ServerFeatures:
    """What the connected ClickHouse supports, from its version string."""

    version: tuple[int, int]

    @classmethod
    def from_version(cls, version: str) -> ServerFeatures:
        m = _VERSION.match(version.strip())
        if m is None:
            raise ValueError(f"cannot parse ClickHouse version {version!r}")
        return cls((int(m.group(1)), int(m.group(2))))

    @property
    def low_cardinality(self) -> bool:
        return self.version >= (19, 9)  # experimental (needs a setting) before that

    @property
    def ttl(self) -> bool:
        return self.version >= (19, 6)

    @property
    def codecs(self) -> bool:
        return self.version >= (19, 10)

    @property
    def skip_indices(self) -> bool:
        return self.version >= (20, 1)  # bloom_filter indices without the experimental setting

    @property
    def projections(self) -> bool:
        return self.version >= (24, 8)  # on ReplacingMergeTree: deduplicate_merge_projection_mode

    @property
    def lazy_materialization(self) -> bool:  # ORDER BY ... LIMIT reads other columns of the top rows only
        return self.version >= (25, 4)


def create_database_sql(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {check_identifier(database)}"


def create_table_sql(
    database: str,
    table: str,
    columns: Sequence[str],
    types: Mapping[str, str],
    order_by: str,
    *,
    engine: str = "ReplacingMergeTree(version)",
    partition_by: str = "",
    ttl: str = "",
) -> str:
    """CREATE TABLE IF NOT EXISTS for a table other than `events` (types by column name; the default
    engine keeps the newest `version` of each `order_by` key, see `latest_sql`)."""
    body = ",\n".join(f"    {check_identifier(c, 'column name')} {types[c]}" for c in columns)
    lines = [
        f"CREATE TABLE IF NOT EXISTS {check_identifier(database)}.{check_identifier(table, 'table name')} (",
        body,
        ")",
        f"ENGINE = {engine}",
        *([f"PARTITION BY {partition_by}"] if partition_by else []),
        f"ORDER BY {order_by}",
        *([f"TTL {ttl}"] if ttl else []),
    ]
    return "\n".join(lines)


def latest_sql(database: str, table: str, columns: Sequence[str], key: str, where: str = "") -> str:
    """The newest version of each record (of those matching `where`), ordered by `key`: right before
    the ReplacingMergeTree's merges too (no window functions, so it runs on 18.16)."""
    names = ", ".join(columns)
    return f"SELECT {names} FROM {database}.{table}{where} ORDER BY {key}, version DESC LIMIT 1 BY {key}"


#: (column, type on every version, type on servers with LowCardinality), in insert order.
_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("event_id", "UUID", False),
    ("schema_version", "String", True),
    ("ts_ms", "Int64", False),
    ("camera_id", "String", True),
    ("site_id", "String", True),
    ("type", "String", True),
    ("severity", "String", True),
    ("alert", "UInt8", False),
    ("rule_id", "String", True),
    ("track_id", "Nullable(Int64)", False),
    ("label", "String", True),
    ("confidence", "Float32", False),
    ("bbox_xyxy", "Array(Float32)", False),
    ("attributes", "String", False),
    ("snapshot_uri", "String", False),
    ("snapshot_sha256", "String", False),
    ("model_name", "String", True),
    ("model_version", "String", True),
    ("worker_id", "String", True),
    ("payload", "String", False),
)
EVENT_COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in _COLUMNS)

EventRow = tuple[
    uuid.UUID, str, int, str, str, str, str, int, str, int | None, str, float, list[float],
    str, str, str, str, str, str, str,
]  # fmt: skip


def create_events_table_sql(
    database: str,
    features: ServerFeatures,
    retention_days: int | None = None,
    index_granularity: int = EVENTS_INDEX_GRANULARITY,
) -> str:
    """The `events` table for this server version.

    ReplacingMergeTree: an id written twice (two sinks racing past the insert check) becomes one row
    when parts merge; reads never serve it twice meanwhile (see history_sql). Sorted by hour, then
    camera and time: the newest events of every camera sit together (the console's pages read a few
    granules), one camera's day is 24 short ranges. Small granules: a page reads 50 payloads, each
    costs a granule. Modern servers keep counts per (type, alert, site, camera) in a projection.
    """
    if index_granularity < 1:
        raise ValueError(f"index_granularity must be >= 1, got {index_granularity}")
    columns = []
    for name, base_type, low_card in _COLUMNS:
        col_type = f"LowCardinality({base_type})" if low_card and features.low_cardinality else base_type
        codec = " CODEC(ZSTD(3))" if name == "payload" and features.codecs else ""
        columns.append(f"    {name} {col_type}{codec}")
    if features.skip_indices:
        columns.append("    INDEX event_id_idx event_id TYPE bloom_filter GRANULARITY 4")
    settings = [f"index_granularity = {int(index_granularity)}"]
    if features.projections:
        keys = ", ".join(COUNTS_PROJECTION_KEYS)
        columns.append(f"    PROJECTION {COUNTS_PROJECTION} (SELECT {keys}, count() GROUP BY {keys})")
        settings.append("deduplicate_merge_projection_mode = 'rebuild'")  # counts stay exact after merges
    ts = "toDateTime(intDiv(ts_ms, 1000), 'UTC')"
    lines = [
        f"CREATE TABLE IF NOT EXISTS {check_identifier(database)}.{EVENTS_TABLE} (",
        ",\n".join(columns),
        ")",
        "ENGINE = ReplacingMergeTree",
        f"PARTITION BY toYYYYMM({ts})",
        f"ORDER BY ({EVENTS_SORT_KEY})",
    ]
    if retention_days is not None:
        if retention_days < 1:
            raise ValueError(f"retention_days must be >= 1, got {retention_days}")
        if features.ttl:
            lines.append(f"TTL {ts} + INTERVAL {int(retention_days)} DAY")
    lines.append(f"SETTINGS {', '.join(settings)}")
    return "\n".join(lines)


def events_layout_notice(create_table: str, index_granularity: int = EVENTS_INDEX_GRANULARITY) -> str | None:
    """A notice for an `events` table (its SHOW CREATE TABLE text) made before the hour-sorted,
    small-granule layout: it works, but history pages read more (recreate it and copy the rows)."""
    m = _GRANULARITY.search(create_table)
    found = int(m.group(1)) if m else 8192
    if found <= index_granularity and EVENTS_SORT_KEY in create_table:
        return None
    return (
        f"the events table predates the history layout (ORDER BY ({EVENTS_SORT_KEY}), granules of "
        f"{index_granularity}; it has {found}): history pages read more (recreate it, copy the rows)"
    )


def event_row(event: Event) -> EventRow:
    """One `events` row, values in `EVENT_COLUMNS` order."""
    snapshot = event.snapshot
    return (
        event.event_id,
        event.schema_version,
        event.ts_ms,
        event.camera_id,
        event.site_id,
        event.type,
        event.severity.value,
        1 if event.alert else 0,
        event.rule_id,
        event.track_id,
        event.label,
        event.confidence,
        list(event.bbox_xyxy),
        event.attributes.model_dump_json(),
        snapshot.uri if snapshot is not None else "",
        snapshot.sha256 if snapshot is not None else "",
        event.model.name,
        event.model.version,
        event.worker_id,
        event.model_dump_json(),
    )


def unique_by_id(events: Sequence[Event]) -> list[Event]:
    """First occurrence of each event_id, order kept."""
    seen: dict[uuid.UUID, Event] = {}
    for e in events:
        seen.setdefault(e.event_id, e)
    return list(seen.values())


def existing_ids_sql(database: str, events: Sequence[Event], bind: Binder) -> str:
    """Which of these (non-empty) events' ids are stored already; the ts range prunes partitions."""
    if not events:
        raise ValueError("existing_ids_sql needs at least one event")
    ids = tuple(e.event_id for e in events)
    lo = min(e.ts_ms for e in events)
    hi = max(e.ts_ms for e in events)
    return (
        f"SELECT event_id FROM {database}.{EVENTS_TABLE} "
        f"WHERE ts_ms >= {bind(lo)} AND ts_ms <= {bind(hi)} AND event_id IN {bind(ids)}"
    )


def check_query(q: EventQuery, max_limit: int) -> None:
    if not 1 <= q.limit <= max_limit:
        raise InvalidQueryError(f"limit must be 1..{max_limit}, got {q.limit}")
    if q.offset < 0:
        raise InvalidQueryError(f"offset must be >= 0, got {q.offset}")
    if q.since_ms is not None and q.until_ms is not None and q.since_ms > q.until_ms:
        raise InvalidQueryError(f"since_ms ({q.since_ms}) is after until_ms ({q.until_ms})")


def parse_payload(payload: str) -> Event:
    return Event.model_validate_json(payload)
