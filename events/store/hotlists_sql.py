"""`HotlistStore` on ClickHouse: plate hotlists and their entries.

Both tables hold versioned rows (ReplacingMergeTree(version); every read takes the newest version
itself, as in faces_sql). Deleting an entry appends its next version with `deleted = 1`. Erasing a list
is physical: `ALTER TABLE ... DELETE` of the list's rows in both tables, then the store waits until
`system.mutations` says they are done (18.16 has no `mutations_sync`). The SQL runs unchanged on
ClickHouse 18.16 and on chDB.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import TypeVar

from events.hotlists import Hotlist, HotlistEntry
from events.store.records_sql import (
    Condition,
    RecordSqlStore,
    TableSpec,
    in_sql,
    parse_record,
)
from events.store.sql import Binder, latest_sql

logger = logging.getLogger(__name__)

HOTLISTS_TABLE = "hotlists"
ENTRIES_TABLE = "hotlist_entries"
TABLES = (HOTLISTS_TABLE, ENTRIES_TABLE)

HOTLIST_COLUMNS: tuple[str, ...] = tuple(Hotlist.model_fields)
ENTRY_COLUMNS: tuple[str, ...] = tuple(HotlistEntry.model_fields)

_STRINGS = "hotlist_id entry_id name purpose severity pattern match note created_by"
_TYPES = {
    **dict.fromkeys(_STRINGS.split(), "String"),
    "max_distance": "UInt8",
    "expires_ts_ms": "Nullable(Int64)",
    **dict.fromkeys(("created_ts_ms", "updated_ts_ms"), "Int64"),
    "version": "UInt64",
    "deleted": "UInt8",
}

R = TypeVar("R", Hotlist, HotlistEntry)


def _equals(column: str, value: str, bind: Binder) -> str:
    return f"{column} = {bind(value)}"


class HotlistSqlStore(RecordSqlStore):
    """`events.hotlists.HotlistStore` on a `SqlRunner` (ChdbStore or ClickHouseStore), plus `expire`."""

    #: Both tables keep versions (an entry never changes list).
    TABLES = (
        TableSpec(HOTLISTS_TABLE, HOTLIST_COLUMNS, "hotlist_id"),
        TableSpec(ENTRIES_TABLE, ENTRY_COLUMNS, "(hotlist_id, entry_id)"),
    )
    TYPES = _TYPES

    # --- hotlists ---

    def put_hotlist(self, record: Hotlist) -> None:
        self._insert(HOTLISTS_TABLE, HOTLIST_COLUMNS, [record])

    def get_hotlist(self, hotlist_id: str) -> Hotlist | None:
        found = self._latest(Hotlist, partial(_equals, "hotlist_id", hotlist_id))
        return found[0] if found else None

    def list_hotlists(self) -> list[Hotlist]:
        return sorted(self._latest(Hotlist), key=lambda h: (h.name, h.hotlist_id))

    def erase_hotlist(self, hotlist_id: str) -> int:
        """Removes the list's rows from both tables (every version); returns its live entries' count."""
        live = len(self.list_entries(hotlist_id))
        self._erase([hotlist_id])
        return live

    # --- entries ---

    def put_entry(self, record: HotlistEntry) -> None:
        self._insert(ENTRIES_TABLE, ENTRY_COLUMNS, [record])

    def put_entries(self, records: list[HotlistEntry]) -> None:
        self._insert(ENTRIES_TABLE, ENTRY_COLUMNS, records)

    def list_entries(self, hotlist_id: str | None = None) -> list[HotlistEntry]:
        """Live entries (newest version not deleted), oldest first."""
        where = None if hotlist_id is None else partial(_equals, "hotlist_id", hotlist_id)
        return self._live_entries(where)

    def delete_entry(self, entry_id: str) -> HotlistEntry | None:
        found = self._latest(HotlistEntry, partial(_equals, "entry_id", entry_id))
        if not found or found[0].deleted:
            return None
        deleted = found[0].model_copy(update={"deleted": True, "version": found[0].version + 1})
        self.put_entry(deleted)
        return deleted

    # --- expiry ---

    def expire(self, now_ms: int) -> list[str]:
        """Erases the lists whose newest version expired at `now_ms`, then marks the live entries past
        their own expiry deleted. Returns the ids of the lists that changed (erased or lost entries)."""
        due: Condition = lambda bind: f"expires_ts_ms <= {bind(now_ms)}"  # noqa: E731
        expired_lists = sorted(h.hotlist_id for h in self._latest(Hotlist, outer=due))
        self._erase(expired_lists)
        expired_entries = self._live_entries(outer=due)
        self.put_entries(
            [e.model_copy(update={"deleted": True, "version": e.version + 1}) for e in expired_entries]
        )
        if expired_lists or expired_entries:
            logger.info("expired %d hotlists and %d entries", len(expired_lists), len(expired_entries))
        return sorted(set(expired_lists) | {e.hotlist_id for e in expired_entries})

    # --- reads and erasure ---

    def _latest(
        self, model: type[R], where: Condition | None = None, *, outer: Condition | None = None
    ) -> list[R]:
        """The newest version of each record (of those `where` finds), kept when it meets `outer`."""
        table, columns, key = (
            (HOTLISTS_TABLE, HOTLIST_COLUMNS, "hotlist_id")
            if model is Hotlist
            else (ENTRIES_TABLE, ENTRY_COLUMNS, "entry_id")
        )

        def build(bind: Binder) -> str:
            latest = latest_sql(
                self._db, table, columns, key, "" if where is None else f" WHERE {where(bind)}"
            )
            if outer is None:
                return latest
            return f"SELECT {', '.join(columns)} FROM ({latest}) WHERE {outer(bind)}"

        return [parse_record(model, columns, r) for r in self._runner.select(build)]

    def _live_entries(
        self, where: Condition | None = None, *, outer: Condition | None = None
    ) -> list[HotlistEntry]:
        """Entries whose newest version is not deleted (of those `where` finds, meeting `outer`),
        oldest first."""

        def live(bind: Binder) -> str:
            return "deleted = 0" if outer is None else f"deleted = 0 AND {outer(bind)}"

        found = self._latest(HotlistEntry, where, outer=live)
        return sorted(found, key=lambda e: (e.created_ts_ms, e.entry_id))

    def _erase(self, hotlist_ids: Sequence[str]) -> None:
        """Deletes every row of the lists from both tables and waits until they are gone; a step that
        finds no row starts no mutation."""
        for start in range(0, len(hotlist_ids), self._max_ids):
            where = partial(in_sql, "hotlist_id", tuple(hotlist_ids[start : start + self._max_ids]))
            if any(self._count(table, where) for table in TABLES):
                self._delete(TABLES, where)

    def _count(self, table: str, where: Condition) -> int:
        rows = self._runner.select(lambda bind: f"SELECT count() FROM {self._db}.{table} WHERE {where(bind)}")
        return int(str(rows[0][0]))
