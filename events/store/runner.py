"""The one interface tables other than `events` use to reach the store's engine (chDB or a server).

`ChdbStore` and `ClickHouseStore` both satisfy `SqlRunner`, so a table module (alert state, audit
log, users, ...) is written once: it builds SQL with a `Binder` and hands it to the runner, which
binds values its own way (inline literals on chDB, driver parameters on a server).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from events.store.sql import Binder, ServerFeatures, SqlValue

#: Builds one statement, turning every value into SQL text with the binder it is given.
SqlBuilder = Callable[[Binder], str]


class SqlRunner(Protocol):
    @property
    def database(self) -> str:
        """The database (already checked as an identifier) every table name is qualified with."""
        ...

    @property
    def features(self) -> ServerFeatures: ...

    def select(self, build: SqlBuilder) -> list[tuple[Any, ...]]:
        """Rows of a SELECT; raises `StoreError` when the engine refuses or cannot be reached."""
        ...

    def command(self, build: SqlBuilder) -> None:
        """Runs DDL or a statement without rows (CREATE, ALTER, ...)."""
        ...

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[SqlValue]]) -> None:
        """INSERT INTO database.table (columns) the rows, in one statement (nothing when empty)."""
        ...
