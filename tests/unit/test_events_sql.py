"""Shared SQL: the quoting helper (checked against the real engine), DDL per version, query checks."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from events.auth import CameraScope
from events.ports import EventCursor, EventQuery
from events.schema import Event
from events.store import history_sql, sql
from events.store.sql import DriverParams, InvalidQueryError, ServerFeatures, SqlValue, sql_literal
from tests.unit.events_samples import make_event

UID = uuid.UUID("6f1c2a44-5b0e-4d7e-9a57-0a4e1f3b8c11")

NASTY_STRINGS = [
    "",
    "plain",
    "it's",
    "back\\slash",
    "ends with backslash\\",
    "\\'",
    "'; DROP TABLE events; --",
    "line\nbreak\r\ttab",
    "nul\0byte",
    "\b\f",
    "unicode: 京A·12345 ✓ 🚨",
    "\u2028\u2029",
    "%(p0)s {x:String} ?",
    "\\N",
    '"double" `back`',
]


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (None, "NULL"),
        (True, "1"),
        (False, "0"),
        (0, "0"),
        (-42, "-42"),
        (2**63 - 1, "9223372036854775807"),
        (0.5, "0.5"),
        (1e-7, "1e-07"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (float("nan"), "nan"),
        ("it's", "'it\\'s'"),
        ("a\\b", "'a\\\\b'"),
        ("a\nb", "'a\\nb'"),
        ("a\0b", "'a\\0b'"),
        (UID, f"'{UID}'"),
        (("a", 1), "('a', 1)"),
        (("only",), "('only')"),
        ([0.1, 0.2], "[0.1, 0.2]"),
        ([], "[]"),
        ((1, [2, None]), "(1, [2, NULL])"),
    ],
)
def test_sql_literal_renders(value: SqlValue, literal: str) -> None:
    assert sql_literal(value) == literal


@pytest.mark.parametrize(("value", "error"), [((), ValueError), (1j, TypeError), ({"a": 1}, TypeError)])
def test_sql_literal_refuses_what_it_cannot_render(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        sql_literal(value)


@pytest.fixture(scope="module")
def chdb_conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import chdb

    connect: Callable[[str], Any] = chdb.connect
    conn = connect(str(tmp_path_factory.mktemp("chdb-literal")))
    yield conn
    conn.close()


def _select(conn: Any, expr: str) -> Any:
    return json.loads(conn.query(f"SELECT {expr} AS v", "JSONCompact").bytes())["data"][0][0]


@pytest.mark.parametrize("text", NASTY_STRINGS)
def test_string_literal_round_trips_through_the_engine(chdb_conn: Any, text: str) -> None:
    assert _select(chdb_conn, sql_literal(text)) == text
    assert int(_select(chdb_conn, f"length({sql_literal(text)})")) == len(text.encode())


def test_tuple_literal_works_for_in_and_list_as_array(chdb_conn: Any) -> None:
    assert _select(chdb_conn, f"'it\\'s' IN {sql_literal(tuple(NASTY_STRINGS))}") == 1
    assert _select(chdb_conn, f"'nope' IN {sql_literal(tuple(NASTY_STRINGS))}") == 0
    assert _select(chdb_conn, f"toUUID('{UID}') IN {sql_literal((UID,))}") == 1
    assert _select(chdb_conn, sql_literal(NASTY_STRINGS)) == NASTY_STRINGS


def test_driver_params_collects_values_behind_placeholders() -> None:
    bind = DriverParams()
    query = history_sql.count_sql(
        "anfang", EventQuery(camera_id="c'1", since_ms=5, until_ms=7_200_001, alerts_only=True), bind
    )
    assert query == (
        "SELECT count() FROM anfang.events WHERE camera_id = %(p0)s AND ts_ms >= %(p1)s "
        "AND intDiv(ts_ms, 3600000) >= %(p2)s AND ts_ms <= %(p3)s AND intDiv(ts_ms, 3600000) <= %(p4)s "
        "AND alert = 1"
    )
    assert bind.params == {"p0": "c'1", "p1": 5, "p2": 0, "p3": 7_200_001, "p4": 2}


EVIL = "x' OR 1=1 --"


def test_every_history_filter_value_is_bound_never_inlined() -> None:
    q = EventQuery(
        camera_id=EVIL,
        cameras=(EVIL, "b"),
        scope=CameraScope(sites=("north",), cameras=("cam-9",)),
        types=("zone_intrusion",),
        rule_ids=(EVIL,),
        labels=(EVIL,),
        text=EVIL,
        since_ms=1,
        until_ms=2,
        after=EventCursor(2, UID),
    )
    bind = DriverParams()
    query = history_sql.keys_sql("anfang", q, bind, lower_ms=0, rows=11)
    assert EVIL not in query and "north" not in query and str(UID) not in query
    assert EVIL in bind.params.values() and (EVIL, "b") in bind.params.values()
    assert "(site_id IN %(p2)s OR camera_id IN %(p3)s)" in query
    assert re.search(r"positionCaseInsensitiveUTF8\(attributes, %\(p\d+\)s\) > 0", query)
    assert "event_id < toUUID(%(p" in query and query.endswith("ORDER BY ts_ms DESC, event_id DESC LIMIT 11")


def test_offset_pages_drop_repeats_in_sql() -> None:
    query = history_sql.keys_sql("db", EventQuery(offset=40, limit=5), sql_literal, lower_ms=None, rows=6)
    assert query.endswith("ORDER BY ts_ms DESC, event_id DESC LIMIT 1 BY event_id LIMIT 40, 6")


NOW = 1_000 * history_sql.DAY_MS
H, D = history_sql.HOUR_MS, history_sql.DAY_MS


@pytest.mark.parametrize(
    ("q", "bounds"),
    [
        (EventQuery(), [NOW - H, NOW - D, None]),
        (EventQuery(until_ms=NOW - 5 * D), [NOW - 5 * D - H, NOW - 6 * D, None]),
        (EventQuery(after=EventCursor(NOW - 2 * D, UID), until_ms=NOW), [NOW - 2 * D - H, NOW - 3 * D, None]),
        (EventQuery(since_ms=NOW - 3 * H), [NOW - H, None]),
        (EventQuery(since_ms=NOW - H), [None]),
        (EventQuery(until_ms=NOW + 9 * D), [NOW - H, NOW - D, None]),
    ],
)
def test_scan_windows_widen_from_the_anchor_and_stop_at_since(
    q: EventQuery, bounds: list[int | None]
) -> None:
    assert history_sql.scan_bounds(q, NOW, [D, H]) == bounds


class ScriptedSelect:
    """A `Select` answering key queries with `key_rows[i]` for the i-th, payload queries from `payloads`."""

    def __init__(self, key_rows: list[list[tuple[str, int, uuid.UUID]]], events: list[Event]) -> None:
        self.key_rows = key_rows
        self.payloads = {e.event_id: e.model_dump_json() for e in events}
        self.queries: list[str] = []

    def __call__(self, build: Callable[[Any], str]) -> list[tuple[Any, ...]]:
        query = build(sql_literal)
        self.queries.append(query)
        if query.startswith("SELECT camera_id, ts_ms, event_id"):
            return list(self.key_rows[len([q for q in self.queries if q.startswith("SELECT camera_id")]) - 1])
        if query.startswith("SELECT event_id, payload"):
            return [(str(i), p) for i, p in self.payloads.items() if str(i) in query]
        return [(len(self.payloads),)]


def _keys(events: list[Event]) -> list[tuple[str, int, uuid.UUID]]:
    return [(e.camera_id, e.ts_ms, e.event_id) for e in events]


def test_a_short_window_widens_and_a_full_one_ends_the_search() -> None:
    events = [make_event(i) for i in range(6)][::-1]
    select = ScriptedSelect([_keys(events[:2]), _keys(events[:4])], events)
    page = history_sql.query_events(select, "db", EventQuery(limit=3), now_ms=NOW, windows_ms=[H, D])
    keys = [q for q in select.queries if q.startswith("SELECT camera_id")]
    assert [f"ts_ms >= {NOW - H}" in keys[0], f"ts_ms >= {NOW - D}" in keys[1], len(keys)] == [True, True, 2]
    assert page.events == events[:3] and page.total == 6
    assert page.next_cursor == EventCursor(events[2].ts_ms, events[2].event_id)


def test_repeated_ids_are_dropped_and_more_rows_fetched() -> None:
    events = [make_event(i) for i in range(5)][::-1]
    twice = [events[0], events[0], events[1], events[1], events[2], events[2]]
    select = ScriptedSelect([_keys(twice[:3]), _keys(twice)], events)
    q = EventQuery(limit=2, with_total=False)
    page = history_sql.query_events(select, "db", q, now_ms=NOW, windows_ms=[])
    assert page.events == events[:2] and page.total == -1
    assert page.next_cursor == EventCursor(events[1].ts_ms, events[1].event_id)
    assert [q.split("LIMIT ")[-1] for q in select.queries if q.startswith("SELECT camera_id")] == ["3", "6"]


def test_the_last_page_has_no_cursor() -> None:
    events = [make_event(i) for i in range(2)][::-1]
    select = ScriptedSelect([_keys(events)], events)
    page = history_sql.query_events(select, "db", EventQuery(limit=2), now_ms=NOW, windows_ms=[])
    assert (page.events, page.next_cursor) == (events, None)


NEW_ORDER = f"ORDER BY ({sql.EVENTS_SORT_KEY})"
OLD_ORDER = "ORDER BY (camera_id, ts_ms, event_id)"


@pytest.mark.parametrize(
    ("ddl", "notice"),
    [
        (f"{OLD_ORDER} SETTINGS index_granularity = 8192", True),
        (OLD_ORDER, True),
        (f"{OLD_ORDER} SETTINGS index_granularity = 256", True),
        (f"{NEW_ORDER} SETTINGS index_granularity = 8192", True),
        (f"{NEW_ORDER} SETTINGS index_granularity = 256", False),
        (sql.create_events_table_sql("db", ServerFeatures((18, 16))), False),
        (sql.create_events_table_sql("db", ServerFeatures((26, 9))), False),
    ],
)
def test_old_layouts_get_a_notice(ddl: str, notice: bool) -> None:
    assert (sql.events_layout_notice(ddl) is not None) is notice


@pytest.mark.parametrize(
    ("version", "expected"), [("18.16.1", (18, 16)), ("26.9.2.1", (26, 9)), (" 25.3.1.2-lts ", (25, 3))]
)
def test_server_version_is_parsed(version: str, expected: tuple[int, int]) -> None:
    assert ServerFeatures.from_version(version).version == expected


def test_unparsable_server_version_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot parse ClickHouse version"):
        ServerFeatures.from_version("latest")


@pytest.mark.parametrize(
    ("version", "modern"),
    [((18, 16), False), ((19, 1), False), ((20, 3), True), ((24, 8), True), ((26, 9), True)],
)
def test_ddl_adapts_to_the_server_version(version: tuple[int, int], modern: bool) -> None:
    ddl = sql.create_events_table_sql("anfang", ServerFeatures(version), retention_days=30)
    assert ("LowCardinality(String)" in ddl) is modern
    assert ("CODEC(ZSTD" in ddl) is modern
    assert ("TYPE bloom_filter" in ddl) is modern
    projection = version >= (24, 8)
    assert (
        "PROJECTION counts (SELECT type, alert, site_id, camera_id, count() GROUP BY" in ddl
    ) is projection
    assert ("deduplicate_merge_projection_mode = 'rebuild'" in ddl) is projection
    assert ("TTL " in ddl) is modern
    for must in (
        "ReplacingMergeTree",
        "ORDER BY (intDiv(ts_ms, 3600000), camera_id, ts_ms, event_id)",
        "Nullable(Int64)",
        "UUID",
        f"SETTINGS index_granularity = {sql.EVENTS_INDEX_GRANULARITY}",
    ):
        assert must in ddl
    assert "DateTime64" not in ddl and "JSON" not in ddl.replace("payload", "")


def test_ddl_without_retention_has_no_ttl_and_bad_retention_is_refused() -> None:
    assert "TTL" not in sql.create_events_table_sql("anfang", ServerFeatures((26, 9)))
    with pytest.raises(ValueError, match="retention_days must be >= 1"):
        sql.create_events_table_sql("anfang", ServerFeatures((26, 9)), retention_days=0)


def test_every_column_is_in_the_ddl_in_insert_order() -> None:
    ddl = sql.create_events_table_sql("anfang", ServerFeatures((18, 16)))
    positions = [ddl.index(f"    {c} ") for c in sql.EVENT_COLUMNS]
    assert positions == sorted(positions)


@pytest.mark.parametrize("name", ["", "1abc", "a;DROP", "a.b", "a b", "x" * 65])
def test_bad_database_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="database name must match"):
        sql.create_database_sql(name)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (EventQuery(limit=0), "limit must be 1..100"),
        (EventQuery(limit=101), "limit must be 1..100"),
        (EventQuery(offset=-1), "offset must be >= 0"),
        (EventQuery(since_ms=10, until_ms=9), "since_ms .10. is after until_ms .9."),
    ],
)
def test_bad_queries_are_refused(query: EventQuery, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        sql.check_query(query, max_limit=100)


def test_valid_edge_queries_pass() -> None:
    sql.check_query(EventQuery(limit=100, offset=0, since_ms=9, until_ms=9), max_limit=100)


def test_existing_ids_needs_events(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one event"):
        sql.existing_ids_sql("anfang", [], sql_literal)
