"""The `alert_state` table: versioned lifecycle rows beside the immutable events (chDB and servers alike).

A plain MergeTree ordered by (event_id, version): rows are only ever appended, and the latest state of
an event is its highest version's (`argMax(..., version)`), so no FINAL and no merge is needed to read
it. Works on ClickHouse 18.16 (no LowCardinality without a setting) and modern ClickHouse / chDB.

`append` checks, under a per-event lock, that the stored latest version is the one the row follows:
two actions racing in one process cannot both win. (Across API processes on one server the check and
the insert are not one transaction; see `AlertStateSqlStore`.)

`state_filter_sql` is what the history query builder ANDs into its WHERE over `events` to filter by
status and assignee: a subquery over this (small) table, never a join over all events.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

from events.alert_state import (
    AlertAction,
    AlertState,
    AlertStateRow,
    AlertStatus,
    Resolution,
    check_next_version,
)
from events.store.runner import SqlRunner
from events.store.sql import Binder, InvalidQueryError, ServerFeatures, check_identifier, create_database_sql

logger = logging.getLogger(__name__)

ALERT_STATE_TABLE = "alert_state"
ALERT_STATE_COLUMNS: tuple[str, ...] = (
    "event_id",
    "version",
    "action",
    "actor",
    "ts_ms",
    "status",
    "assignee",
    "resolution",
    "escalation_level",
    "comment",
)
#: Columns of the latest state, in the order `latest_sql` selects them after event_id.
_LATEST = ("status", "assignee", "resolution", "escalation_level", "actor", "ts_ms")


def create_alert_state_table_sql(database: str, features: ServerFeatures) -> str:
    low = "LowCardinality(String)" if features.low_cardinality else "String"
    return "\n".join(
        [
            f"CREATE TABLE IF NOT EXISTS {check_identifier(database)}.{ALERT_STATE_TABLE} (",
            "    event_id UUID,",
            "    version UInt32,",
            f"    action {low},",
            "    actor String,",
            "    ts_ms Int64,",
            f"    status {low},",
            "    assignee String,",  # '' = nobody
            f"    resolution {low},",  # '' = not resolved
            "    escalation_level UInt16,",
            "    comment String",
            ")",
            "ENGINE = MergeTree",
            "ORDER BY (event_id, version)",
        ]
    )


def state_row(row: AlertStateRow) -> tuple[uuid.UUID, int, str, str, int, str, str, str, int, str]:
    """One `alert_state` row, values in `ALERT_STATE_COLUMNS` order."""
    return (
        row.event_id,
        row.version,
        row.action.value,
        row.actor,
        row.ts_ms,
        row.status.value,
        row.assignee or "",
        row.resolution.value if row.resolution is not None else "",
        row.escalation_level,
        row.comment,
    )


def latest_version_sql(database: str, event_id: uuid.UUID, bind: Binder) -> str:
    """The event's highest stored version (0 when it has no row: max of nothing is 0)."""
    return f"SELECT max(version) FROM {database}.{ALERT_STATE_TABLE} WHERE event_id = {bind(event_id)}"


def latest_sql(database: str, event_ids: Sequence[uuid.UUID], bind: Binder) -> str:
    """Per event among `event_ids` (non-empty) that has rows: event_id, max version, then `_LATEST`."""
    picked = ", ".join(f"argMax({c}, version)" for c in _LATEST)
    return (
        f"SELECT event_id, max(version), {picked} FROM {database}.{ALERT_STATE_TABLE} "
        f"WHERE event_id IN {bind(tuple(event_ids))} GROUP BY event_id"
    )


def history_sql(database: str, event_id: uuid.UUID, bind: Binder) -> str:
    return (
        f"SELECT {', '.join(ALERT_STATE_COLUMNS)} FROM {database}.{ALERT_STATE_TABLE} "
        f"WHERE event_id = {bind(event_id)} ORDER BY version, ts_ms"
    )


def state_filter_sql(database: str, statuses: Sequence[str], assignee: str | None, bind: Binder) -> str:
    """A condition on `event_id` (to AND into a WHERE over `events`): the event's latest state has one
    of `statuses` ("new" = never acted on, or acted on without leaving new, e.g. only assigned) and,
    when given, is assigned to `assignee`. `1` when neither filter is given."""
    wanted = tuple(dict.fromkeys(str(s) for s in statuses))
    known = {s.value for s in AlertStatus}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise InvalidQueryError(f"unknown alert status {unknown[0]!r} (known: {', '.join(sorted(known))})")
    table = f"{check_identifier(database)}.{ALERT_STATE_TABLE}"
    having = []
    if wanted:
        having.append(f"argMax(status, version) IN {bind(wanted)}")
    if assignee is not None:
        having.append(f"argMax(assignee, version) = {bind(assignee)}")
    if not having:
        return "1"
    matching = f"event_id IN (SELECT event_id FROM {table} GROUP BY event_id HAVING {' AND '.join(having)})"
    if AlertStatus.NEW.value in wanted and assignee is None:
        return f"(event_id NOT IN (SELECT event_id FROM {table}) OR {matching})"
    return matching


def _int(value: Any) -> int:
    return int(str(value))  # chDB's JSON quotes 64-bit integers; the driver gives ints


def _row(values: Sequence[Any]) -> AlertStateRow:
    event_id, version, action, actor, ts_ms, status, assignee, resolution, level, comment = values
    return AlertStateRow(
        event_id=uuid.UUID(str(event_id)),
        version=_int(version),
        action=AlertAction(str(action)),
        actor=str(actor),
        ts_ms=_int(ts_ms),
        status=AlertStatus(str(status)),
        assignee=str(assignee) or None,
        resolution=Resolution(str(resolution)) if resolution else None,
        escalation_level=_int(level),
        comment=str(comment),
    )


def _state(values: Sequence[Any]) -> AlertState:
    version, status, assignee, resolution, level, actor, ts_ms = values
    return AlertState(
        status=AlertStatus(str(status)),
        assignee=str(assignee) or None,
        resolution=Resolution(str(resolution)) if resolution else None,
        escalation_level=_int(level),
        version=_int(version),
        updated_by=str(actor),
        updated_ts_ms=_int(ts_ms),
    )


class AlertStateSqlStore:
    """`AlertStateStore` on any `SqlRunner` (chDB or a ClickHouse server).

    Appends to one event are serialised in this process (striped locks, so memory stays bounded) and
    checked against the stored latest version. Two API processes writing the same alert at the same
    instant could still both pass the check; the reader then sees one of them (argMax picks one row
    per version) and the history shows both.
    """

    def __init__(self, runner: SqlRunner, *, lock_stripes: int = 64, max_ids_per_query: int = 1000) -> None:
        if lock_stripes < 1 or max_ids_per_query < 1:
            raise ValueError("lock_stripes and max_ids_per_query must be >= 1")
        self._runner = runner
        self._db = check_identifier(runner.database)
        self._locks = [threading.Lock() for _ in range(lock_stripes)]
        self._max_ids = max_ids_per_query

    def ensure_schema(self) -> None:
        self._runner.command(lambda bind: create_database_sql(self._db))
        self._runner.command(lambda bind: create_alert_state_table_sql(self._db, self._runner.features))

    def append(self, row: AlertStateRow) -> None:
        with self._locks[row.event_id.int % len(self._locks)]:
            found = self._runner.select(lambda bind: latest_version_sql(self._db, row.event_id, bind))
            check_next_version(row, _int(found[0][0]) if found else 0)
            self._runner.insert_rows(ALERT_STATE_TABLE, ALERT_STATE_COLUMNS, [state_row(row)])
        logger.debug("alert %s: %s by %s -> v%d", row.event_id, row.action.value, row.actor, row.version)

    def latest(self, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, AlertState]:
        ids = list(dict.fromkeys(event_ids))
        states: dict[uuid.UUID, AlertState] = {}
        for start in range(0, len(ids), self._max_ids):
            for values in self._runner.select(
                partial(latest_sql, self._db, ids[start : start + self._max_ids])
            ):
                states[uuid.UUID(str(values[0]))] = _state(values[1:])
        return states

    def history(self, event_id: uuid.UUID) -> list[AlertStateRow]:
        return [_row(v) for v in self._runner.select(lambda bind: history_sql(self._db, event_id, bind))]
