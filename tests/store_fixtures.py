"""What the tests of the SQL record stores share (face watchlists, plate hotlists; on chDB and on the
ClickHouse server): fixtures of a chDB store of the module's own and of a fresh record store, statements
without values, row counts of the tables themselves, a runner that spies on the statements, and
versioned records' time stamps."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from events.records import Versioned
from events.store.chdb_store import ChdbStore
from events.store.records_sql import RecordSqlStore
from events.store.runner import SqlBuilder, SqlRunner
from events.store.sql import ServerFeatures, SqlValue, sql_literal

T0_MS = 1_700_000_000_000

S = TypeVar("S", bound=RecordSqlStore)
V = TypeVar("V", bound=Versioned)


def chdb_fixture(database: str, *, events_table: bool = False) -> Any:
    """A module-scoped fixture (named as the module attribute it is assigned to): a chDB store on a
    database of the module's own; `events_table`: with the events table in place."""

    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStore]:
        store = ChdbStore(Path(tmp_path_factory.mktemp(database)) / "chdb", database=database)
        if events_table:
            store.ensure_schema()
        yield store
        store.close()

    return pytest.fixture(scope="module")(fixture)


def record_store_fixture(make: Callable[[SqlRunner], RecordSqlStore], *, empty: bool) -> Any:
    """A fixture (named as the module attribute it is assigned to): `make(runner)` over the module's
    `runner` fixture, its schema in place; `empty`: its tables emptied first (a runner the module's
    tests share)."""

    def fixture(runner: SqlRunner) -> RecordSqlStore:
        return fresh(make(runner), runner if empty else None)

    return pytest.fixture(fixture)


def fixed(text: str) -> SqlBuilder:
    return lambda _bind: text


def fresh(store: S, runner: SqlRunner | None = None) -> S:
    """The store with its schema in place (created twice: it is idempotent); with `runner` (the one
    under it) its tables are emptied too."""
    store.ensure_schema()
    store.ensure_schema()
    if runner is not None:
        for table in store.TABLES:
            runner.command(fixed(f"TRUNCATE TABLE {runner.database}.{table.name}"))
    return store


def rows(runner: SqlRunner, table: str, where: str = "1") -> int:
    """Rows of the table itself (every version, before or after merges)."""
    return int(
        str(runner.select(fixed(f"SELECT count() FROM {runner.database}.{table} WHERE {where}"))[0][0])
    )


def versioned(model: type[V], version: int, changes: dict[str, Any], **fields: Any) -> V:
    """A record at `version` (created at T0_MS, updated `version` ms later), `changes` applied after."""
    base = model(created_ts_ms=T0_MS, updated_ts_ms=T0_MS + version, version=version, **fields)
    return base.model_copy(update=changes)


class SpyRunner:
    """A `SqlRunner` over another that keeps every statement (as chDB would run it) and can pretend
    that mutations never finish."""

    def __init__(self, inner: ChdbStore, *, stuck_mutations: bool = False) -> None:
        self.inner = inner
        self.statements: list[str] = []
        self.stuck_mutations = stuck_mutations

    @property
    def database(self) -> str:
        return self.inner.database

    @property
    def features(self) -> ServerFeatures:
        return self.inner.features

    def select(self, build: SqlBuilder) -> list[tuple[Any, ...]]:
        text = build(sql_literal)
        self.statements.append(text)
        if self.stuck_mutations and "system.mutations" in text:
            return [(1,)]
        return self.inner.select(build)

    def command(self, build: SqlBuilder) -> None:
        self.statements.append(build(sql_literal))
        self.inner.command(build)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[SqlValue]]) -> None:
        self.statements.append(f"INSERT INTO {table} ({len(rows)} rows)")
        self.inner.insert_rows(table, columns, rows)
