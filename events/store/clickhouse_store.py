"""`EventStore` on a ClickHouse server over the native protocol (clickhouse-driver).

clickhouse-driver's `Client` is not thread-safe: each thread gets its own (threading.local), all of
them closed by `close()`. Values travel as driver parameters (escaped client-side by the driver;
tuples render as `(a, b)` for IN). Table names are always qualified with the database, which is
created by `ensure_schema` when missing, so the connection itself never depends on it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from events.ports import EventGroupBy, EventPage, EventQuery, StoreError
from events.schema import Event
from events.sensors import ReadingQuery, SensorReading
from events.store import history_sql, readings_sql, sql
from events.store.runner import SqlBuilder

logger = logging.getLogger(__name__)


def _server_message(exc: Any, max_chars: int = 500) -> str:
    """The server's message without its stack trace, on one line."""
    text = str(getattr(exc, "message", "") or exc).split(" Stack trace:", 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 3] + "..."


class ClickHouseStore:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9000,
        database: str = "anfang",
        user: str = "default",
        password: str = "",
        connect_timeout_s: float = 10.0,
        *,
        query_timeout_s: float = 60.0,
        retention_days: int | None = None,
        max_limit: int = 10_000,
        scan_windows_ms: Sequence[int] = history_sql.DEFAULT_SCAN_WINDOWS_MS,
    ) -> None:
        self._host = host
        self._port = port
        self._db = sql.check_identifier(database)
        self._user = user
        self._password = password
        self._connect_timeout_s = connect_timeout_s
        self._query_timeout_s = query_timeout_s
        self._retention_days = retention_days
        self._max_limit = max_limit
        self._scan_windows_ms = tuple(scan_windows_ms)
        self._local = threading.local()
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()
        self._insert_lock = threading.Lock()
        self._closed = False
        try:
            version = str(self._execute("SELECT version()")[0][0])
        except BaseException:
            self.close()
            raise
        self._features = sql.ServerFeatures.from_version(version)
        logger.info("ClickHouse %s at %s:%d, database %s", version, host, port, self._db)

    @property
    def features(self) -> sql.ServerFeatures:
        return self._features

    @property
    def database(self) -> str:
        return self._db

    def select(self, build: SqlBuilder) -> list[tuple[Any, ...]]:
        binder = sql.DriverParams()
        query = build(binder)
        return self._execute(query, binder.params)

    def command(self, build: SqlBuilder) -> None:
        binder = sql.DriverParams()
        query = build(binder)
        self._execute(query, binder.params or None)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[sql.SqlValue]]) -> None:
        if not rows:
            return
        names = ", ".join(sql.check_identifier(c, "column name") for c in columns)
        target = f"{self._db}.{sql.check_identifier(table, 'table name')}"
        self._execute(f"INSERT INTO {target} ({names}) VALUES", [tuple(row) for row in rows])

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    def _client(self) -> Any:
        if self._closed:
            raise StoreError(f"ClickHouse store for {self.address} is closed")
        client = getattr(self._local, "client", None)
        if client is not None:
            return client
        from clickhouse_driver import Client

        client = Client(
            host=self._host,
            port=self._port,
            user=self._user,
            password=self._password,
            connect_timeout=self._connect_timeout_s,
            send_receive_timeout=self._query_timeout_s,
            sync_request_timeout=self._connect_timeout_s,
            client_name="anfang",
        )
        with self._clients_lock:
            self._clients.append(client)
        self._local.client = client
        return client

    def _execute(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        from clickhouse_driver import errors

        client = self._client()
        try:
            rows: list[tuple[Any, ...]] = client.execute(query, params)
        except errors.ServerException as exc:
            raise StoreError(
                f"ClickHouse at {self.address} refused a query: {_server_message(exc)} (code {exc.code})"
            ) from exc
        except (errors.Error, OSError, EOFError) as exc:
            with contextlib.suppress(Exception):
                client.disconnect()
            raise StoreError(f"cannot reach ClickHouse at {self.address}: {exc}") from exc
        return rows

    def _bound(self, build: Any, *args: Any) -> list[tuple[Any, ...]]:
        """Runs `build(database, *args, binder)` with driver parameters."""
        binder = sql.DriverParams()
        query = build(self._db, *args, binder)
        return self._execute(query, binder.params)

    def ensure_schema(self) -> None:
        self._execute(sql.create_database_sql(self._db))
        self._execute(sql.create_events_table_sql(self._db, self._features, self._retention_days))
        self._execute(readings_sql.create_readings_table_sql(self._db, self._features))
        notice = sql.events_layout_notice(
            str(self._execute(f"SHOW CREATE TABLE {self._db}.{sql.EVENTS_TABLE}")[0][0])
        )
        if notice is not None:
            logger.warning("%s database %s: %s", self.address, self._db, notice)
        if self._retention_days is not None and not self._features.ttl:
            logger.warning(
                "ClickHouse %s has no TTL: retention_days=%d is not applied (drop old partitions by hand)",
                ".".join(map(str, self._features.version)),
                self._retention_days,
            )

    def insert(self, events: Sequence[Event]) -> int:
        unique = sql.unique_by_id(events)
        if not unique:
            return 0
        with self._insert_lock:
            existing = {row[0] for row in self._bound(sql.existing_ids_sql, unique)}
            new = [e for e in unique if e.event_id not in existing]
            if new:
                columns = ", ".join(sql.EVENT_COLUMNS)
                rows = [sql.event_row(e) for e in new]
                self._execute(f"INSERT INTO {self._db}.{sql.EVENTS_TABLE} ({columns}) VALUES", rows)
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
        columns = ", ".join(readings_sql.READING_COLUMNS)
        rows = [readings_sql.reading_row(r, received_ts_ms) for r in readings]
        self._execute(f"INSERT INTO {self._db}.{readings_sql.READINGS_TABLE} ({columns}) VALUES", rows)
        return len(readings)

    def query_readings(self, q: ReadingQuery) -> list[SensorReading]:
        readings_sql.check_reading_query(q, self._max_limit)
        return [readings_sql.parse_reading(r) for r in self._bound(readings_sql.readings_sql, q)]

    def close(self) -> None:
        with self._clients_lock:
            self._closed = True
            clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):
                client.disconnect()
