"""`EventStore` on chDB: the ClickHouse engine embedded in this process, data under a folder.

chDB hosts one engine per process, bound to one data path, and the engine locks that path: a second
process cannot open it. We take our own lock first (`anfang.lock` in the folder, holding our pid) so
that case fails with a clear message instead of chDB's generic one. One chDB connection serialises its
queries; each thread gets its own connection, so readers (API) and the writer (sink) run in parallel.
chDB has no client-side parameters: values are inlined with `sql.sql_literal`, the one quoting helper.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from events.ports import EventGroupBy, EventPage, EventQuery, StoreError
from events.schema import Event
from events.sensors import ReadingQuery, SensorReading
from events.store import history_sql, readings_sql, sql
from events.store.runner import SqlBuilder
from events.store.sql import sql_literal

logger = logging.getLogger(__name__)

LOCK_FILE_NAME = "anfang.lock"


def _lock_data_folder(path: Path) -> IO[str]:
    """Exclusive, non-blocking lock on the folder (released when the file is closed or we die)."""
    lock_path = path / LOCK_FILE_NAME
    try:
        handle = lock_path.open("a+", encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"cannot open chDB data folder {path}: {exc}") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        if holder == str(os.getpid()):
            raise StoreError(
                f"data folder {path} is already open in this process (pid {holder}): share one ChdbStore"
            ) from None
        raise StoreError(
            f"data folder {path} is in use by another anfang process (pid {holder}): "
            "stop it, or give this one another data folder"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


class ChdbStore:
    def __init__(
        self,
        path: Path,
        *,
        database: str = "anfang",
        retention_days: int | None = None,
        max_limit: int = 10_000,
        scan_windows_ms: Sequence[int] = history_sql.DEFAULT_SCAN_WINDOWS_MS,
    ) -> None:
        self._path = Path(path).resolve()
        if "?" in str(self._path):
            raise StoreError(f"chDB data folder path must not contain '?': {self._path}")
        self._db = sql.check_identifier(database)
        self._retention_days = retention_days
        self._max_limit = max_limit
        self._scan_windows_ms = tuple(scan_windows_ms)
        try:
            self._path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create chDB data folder {self._path}: {exc}") from exc
        self._lock_handle: IO[str] | None = _lock_data_folder(self._path)
        self._local = threading.local()
        self._conns: list[Any] = []
        self._conns_lock = threading.Lock()
        self._insert_lock = threading.Lock()
        self._closed = False
        try:
            version = str(self._rows("SELECT version()")[0][0])
            self._features = sql.ServerFeatures.from_version(version)
        except BaseException:
            self.close()
            raise
        logger.info("chDB %s opened at %s", version, self._path)

    @property
    def features(self) -> sql.ServerFeatures:
        return self._features

    @property
    def database(self) -> str:
        return self._db

    def select(self, build: SqlBuilder) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._rows(build(sql_literal))]

    def command(self, build: SqlBuilder) -> None:
        self._run(build(sql_literal))

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[sql.SqlValue]]) -> None:
        if not rows:
            return
        names = ", ".join(sql.check_identifier(c, "column name") for c in columns)
        values = ",".join(sql_literal(tuple(row)) for row in rows)
        self._run(
            f"INSERT INTO {self._db}.{sql.check_identifier(table, 'table name')} ({names}) VALUES {values}"
        )

    def _conn(self) -> Any:
        if self._closed:
            raise StoreError(f"chDB store at {self._path} is closed")
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._conns_lock:
            if self._closed:
                raise StoreError(f"chDB store at {self._path} is closed")
            import chdb

            connect: Callable[[str], Any] = chdb.connect
            try:
                conn = connect(str(self._path))
            except Exception as exc:  # chDB raises RuntimeError with the engine's message
                raise StoreError(f"cannot open chDB at {self._path}: {exc}") from exc
            self._conns.append(conn)
        self._local.conn = conn
        return conn

    def _run(self, query: str, fmt: str = "CSV") -> bytes:
        conn = self._conn()
        try:
            result = conn.query(query, fmt)
        except Exception as exc:  # chdb.ChdbError: engine message, one line
            raise StoreError(f"chDB query failed: {str(exc).strip()}") from exc
        data: bytes = result.bytes()
        return data

    def _rows(self, query: str) -> list[list[Any]]:
        data = self._run(query, "JSONCompact")
        if not data:
            return []
        rows: list[list[Any]] = json.loads(data)["data"]
        return rows

    def ensure_schema(self) -> None:
        self._run(sql.create_database_sql(self._db))
        self._run(sql.create_events_table_sql(self._db, self._features, self._retention_days))
        self._run(readings_sql.create_readings_table_sql(self._db, self._features))
        ddl = str(self._rows(f"SHOW CREATE TABLE {self._db}.{sql.EVENTS_TABLE}")[0][0])
        notice = sql.events_layout_notice(ddl)
        if notice is not None:
            logger.warning("%s: %s", self._path, notice)

    def insert(self, events: Sequence[Event]) -> int:
        unique = sql.unique_by_id(events)
        if not unique:
            return 0
        with self._insert_lock:
            found = self._rows(sql.existing_ids_sql(self._db, unique, sql_literal))
            existing = {uuid.UUID(str(row[0])) for row in found}
            new = [e for e in unique if e.event_id not in existing]
            if new:
                values = ",".join(sql_literal(sql.event_row(e)) for e in new)
                columns = ", ".join(sql.EVENT_COLUMNS)
                self._run(f"INSERT INTO {self._db}.{sql.EVENTS_TABLE} ({columns}) VALUES {values}")
        return len(new)

    def query(self, q: EventQuery) -> EventPage:
        sql.check_query(q, self._max_limit)
        return history_sql.query_events(
            self.select,
            self._db,
            q,
            now_ms=int(time.time() * 1000),
            windows_ms=self._scan_windows_ms,
            one_step=self._features.lazy_materialization,
        )

    def aggregate(self, q: EventQuery, group_by: EventGroupBy) -> dict[str, int]:
        return history_sql.aggregate_events(self.select, self._db, q, group_by)

    def get(self, event_id: uuid.UUID) -> Event | None:
        payload = history_sql.get_event_payload(self.select, self._db, event_id)
        return sql.parse_payload(payload) if payload is not None else None

    def count_by_type(self, camera_id: str | None = None) -> dict[str, int]:
        return self.aggregate(EventQuery(camera_id=camera_id), "type")

    def insert_readings(self, readings: Sequence[SensorReading]) -> int:
        """One INSERT for the batch; a reading of the same sensor and ts_ms replaces the earlier one."""
        if not readings:
            return 0
        received_ts_ms = int(time.time() * 1000)
        values = ",".join(sql_literal(readings_sql.reading_row(r, received_ts_ms)) for r in readings)
        columns = ", ".join(readings_sql.READING_COLUMNS)
        self._run(f"INSERT INTO {self._db}.{readings_sql.READINGS_TABLE} ({columns}) VALUES {values}")
        return len(readings)

    def query_readings(self, q: ReadingQuery) -> list[SensorReading]:
        readings_sql.check_reading_query(q, self._max_limit)
        return [
            readings_sql.parse_reading(r)
            for r in self._rows(readings_sql.readings_sql(self._db, q, sql_literal))
        ]

    def close(self) -> None:
        """Closes every thread's connection (the engine stops with the last) and releases the folder."""
        with self._conns_lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None
