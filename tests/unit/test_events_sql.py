"""Shared SQL: the quoting helper (checked against the real engine), DDL per version, query checks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from events.ports import EventQuery
from events.store import sql
from events.store.sql import DriverParams, InvalidQueryError, ServerFeatures, SqlValue, sql_literal

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


@pytest.mark.parametrize(("value", "error"), [((), ValueError), (b"bytes", TypeError), ({"a": 1}, TypeError)])
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
    query = sql.count_sql(
        "anfang", EventQuery(camera_id="c'1", since_ms=5, until_ms=9, alerts_only=True), bind
    )
    assert query == (
        "SELECT count() FROM anfang.events FINAL WHERE camera_id = %(p0)s AND ts_ms >= %(p1)s "
        "AND ts_ms <= %(p2)s AND alert = 1"
    )
    assert bind.params == {"p0": "c'1", "p1": 5, "p2": 9}


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
    [((18, 16), False), ((19, 1), False), ((20, 3), True), ((26, 9), True)],
)
def test_ddl_adapts_to_the_server_version(version: tuple[int, int], modern: bool) -> None:
    ddl = sql.create_events_table_sql("anfang", ServerFeatures(version), retention_days=30)
    assert ("LowCardinality(String)" in ddl) is modern
    assert ("CODEC(ZSTD" in ddl) is modern
    assert ("TYPE bloom_filter" in ddl) is modern
    assert ("TTL " in ddl) is modern
    for must in ("ReplacingMergeTree", "ORDER BY (camera_id, ts_ms, event_id)", "Nullable(Int64)", "UUID"):
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
