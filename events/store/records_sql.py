"""What the SQL stores of records with physical erasure share (faces_sql, hotlists_sql): their tables'
schema, records to rows and back, the erasure limits, and deletion that returns once the rows are gone.

A store subclasses `RecordSqlStore`, naming its tables (`TABLES`) and its columns' types (`TYPES`).
Erasure is `ALTER TABLE ... DELETE` on every table at once, then the store waits until
`system.mutations` says each is done (ClickHouse 18.16 has no `mutations_sync`), bounded by the
store's mutation timeout. The SQL runs unchanged on ClickHouse 18.16 and on chDB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from events.store.mutations import wait_for_mutations
from events.store.runner import SqlBuilder, SqlRunner
from events.store.sql import Binder, SqlValue, create_database_sql, create_table_sql

logger = logging.getLogger(__name__)

#: Ids per `IN (...)` of one erasure step (the statement stays far below max_query_size).
DEFAULT_MAX_IDS_PER_STEP = 1000
DEFAULT_MUTATION_TIMEOUT_S = 60.0

#: A SQL condition, its values bound by the binder it is given.
Condition = Callable[[Binder], str]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table `ensure_schema` creates: its columns (in the record's field order), sort key and engine
    (the default keeps the newest `version` of each key)."""

    name: str
    columns: tuple[str, ...]
    order_by: str
    engine: str = "ReplacingMergeTree(version)"


def fixed(statement: str) -> SqlBuilder:
    """A builder for a statement without values (DDL)."""
    return lambda _bind: statement


def parse_record(model: type[M], columns: Sequence[str], row: Sequence[Any]) -> M:
    """A record from a row (chDB's JSON quotes 64-bit integers: pydantic turns them back)."""
    return model.model_validate(dict(zip(columns, row, strict=True)))


def record_row(record: BaseModel, columns: Sequence[str]) -> list[SqlValue]:
    data = record.model_dump(mode="python")  # a severity stays a (str) Severity, bytes stay bytes
    return [data[c] for c in columns]


def in_sql(column: str, values: tuple[str, ...], bind: Binder) -> str:
    return f"{column} IN {bind(values)}"


class RecordSqlStore:
    """A store on a `SqlRunner` (ChdbStore or ClickHouseStore), its tables in the runner's database."""

    TABLES: ClassVar[tuple[TableSpec, ...]]
    TYPES: ClassVar[Mapping[str, str]]

    def __init__(
        self,
        runner: SqlRunner,
        *,
        mutation_timeout_s: float = DEFAULT_MUTATION_TIMEOUT_S,
        max_ids_per_step: int = DEFAULT_MAX_IDS_PER_STEP,
    ) -> None:
        if mutation_timeout_s <= 0 or max_ids_per_step < 1:
            raise ValueError("mutation_timeout_s must be > 0 and max_ids_per_step >= 1")
        self._runner = runner
        self._db = runner.database
        self._timeout_s = mutation_timeout_s
        self._max_ids = max_ids_per_step

    def ensure_schema(self) -> None:
        """Creates the database and the store's tables when missing (idempotent)."""
        self._runner.command(fixed(create_database_sql(self._db)))
        for t in self.TABLES:
            statement = create_table_sql(self._db, t.name, t.columns, self.TYPES, t.order_by, engine=t.engine)
            self._runner.command(fixed(statement))

    def _insert(self, table: str, columns: Sequence[str], records: Sequence[BaseModel]) -> None:
        """The records as rows of the table, in one statement (nothing when there are none)."""
        if records:
            self._runner.insert_rows(table, columns, [record_row(r, columns) for r in records])

    def _delete(self, tables: Sequence[str], where: Condition) -> None:
        """Deletes the rows `where` finds from every table at once, then waits until each is done."""
        for table in tables:
            self._runner.command(partial(self._delete_sql, table, where))
        for table in tables:
            wait_for_mutations(self._runner, table, self._timeout_s)

    def _delete_sql(self, table: str, where: Condition, bind: Binder) -> str:
        return f"ALTER TABLE {self._db}.{table} DELETE WHERE {where(bind)}"
