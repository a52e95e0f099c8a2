"""The behaviour `HotlistSqlStore` shares on every engine, as one test class: round trips, latest version
wins, entries deleted as versions, physical erasure of a list (proved by querying the tables
themselves), hostile ids, expiry, and the workers' start from the store.

A test module runs it by subclassing `HotlistStoreContract` (named `Test...`) and providing `hotlists`
(an empty store, schema in place) and `runner` (the `SqlRunner` under it) fixtures:
tests/unit/test_hotlist_store.py on chDB, tests/integration/test_hotlist_store_clickhouse.py on the
ClickHouse 18.16 server."""

from __future__ import annotations

from typing import Any

import pytest

from events.hotlists import Hotlist, HotlistEntry, entry_match, hotlist_change, hotlists_from_store
from events.schema import Severity
from events.store.hotlists_sql import ENTRIES_TABLE, HOTLISTS_TABLE, HotlistSqlStore
from events.store.runner import SqlRunner
from tests.store_fixtures import T0_MS, fixed, rows, versioned

#: Text that breaks naive quoting (kept intact in every text column).
HOSTILE = "o'brien\\'; DROP TABLE hotlists; -- %(p0)s %s \n\t 布控"
#: Ids a caller might pass that are no record's id: answered with nothing, never an error.
BAD_IDS = ["", "nope", "hl_' OR 1=1 --", "%(p0)s", "\\", "x" * 500]


def hotlist(hotlist_id: str, version: int = 1, **changes: Any) -> Hotlist:
    name, purpose = f"list {hotlist_id}", f"stolen vehicles: {HOSTILE}"
    return versioned(
        Hotlist, version, changes, hotlist_id=hotlist_id, name=name, purpose=purpose, created_by="integrator"
    )


def entry(entry_id: str, hotlist_id: str, pattern: str, n: int = 0, **changes: Any) -> HotlistEntry:
    base = HotlistEntry(
        entry_id=entry_id,
        hotlist_id=hotlist_id,
        pattern=pattern,
        match=entry_match(pattern),
        note=HOSTILE,
        created_by="key:k1",
        created_ts_ms=T0_MS + n,
    )
    return base.model_copy(update=changes)


def keys(runner: SqlRunner, table: str, where: str = "1") -> int:
    """Distinct records of the table itself (merges of their versions do not change it)."""
    key = "hotlist_id" if table == HOTLISTS_TABLE else "entry_id"
    text = f"SELECT count(DISTINCT {key}) FROM {runner.database}.{table} WHERE {where}"
    return int(str(runner.select(fixed(text))[0][0]))


def newest(runner: SqlRunner, entry_id: str) -> tuple[int, int]:
    """(version, deleted) of the entry's newest stored row."""
    text = (
        f"SELECT max(version), argMax(deleted, version) FROM {runner.database}.{ENTRIES_TABLE} "
        f"WHERE entry_id = '{entry_id}'"
    )
    version, deleted = runner.select(fixed(text))[0]
    return int(str(version)), int(str(deleted))


def seed(hotlists: HotlistSqlStore) -> dict[str, HotlistEntry]:
    """hl_a (3 entries: exact, wildcard, fuzzy) and hl_b (1 entry, 1 deleted)."""
    hotlists.put_hotlist(hotlist("hl_a", max_distance=2))
    hotlists.put_hotlist(hotlist("hl_b", severity=Severity.CRITICAL, max_distance=0))
    entries = {
        "a1": entry("he_a1", "hl_a", "京A12345", 1, match="exact"),
        "a2": entry("he_a2", "hl_a", "沪B*9", 2),
        "a3": entry("he_a3", "hl_a", "粤Z1234港", 3, expires_ts_ms=T0_MS + 10**9),
        "b1": entry("he_b1", "hl_b", "苏E55555", 4),
        "b2": entry("he_b2", "hl_b", "浙A?2345", 5),
    }
    for record in entries.values():
        hotlists.put_entry(record)
    hotlists.put_entry(entries["b2"].model_copy(update={"version": 2, "deleted": True}))
    return entries


#: expire() cases: (list expiry, entry expiry, now) -> (list erased, entry deleted)
EXPIRY_CASES = [
    pytest.param(None, T0_MS, T0_MS, (False, True), id="entry-due-exactly-now"),
    pytest.param(None, T0_MS - 1, T0_MS, (False, True), id="entry-past"),
    pytest.param(None, T0_MS + 1, T0_MS, (False, False), id="entry-not-yet"),
    pytest.param(None, None, T0_MS, (False, False), id="entry-never"),
    pytest.param(T0_MS - 1, None, T0_MS, (True, True), id="list-past"),
    pytest.param(T0_MS, T0_MS + 9, T0_MS, (True, True), id="list-due-before-its-entry"),
    pytest.param(T0_MS + 1, None, T0_MS, (False, False), id="list-not-yet"),
]


class HotlistStoreContract:
    def test_records_round_trip(self, hotlists: HotlistSqlStore) -> None:
        entries = seed(hotlists)
        expiring = hotlist("hl_c", expires_ts_ms=T0_MS + 60_000, purpose="", severity=Severity.LOW)
        hotlists.put_hotlist(expiring)
        assert hotlists.get_hotlist("hl_c") == expiring
        assert hotlists.get_hotlist("hl_a") == hotlist("hl_a", max_distance=2)
        assert hotlists.list_entries("hl_a") == [entries["a1"], entries["a2"], entries["a3"]]
        assert [e.match for e in hotlists.list_entries("hl_a")] == ["exact", "wildcard", "fuzzy"]
        assert hotlists.list_entries("hl_b") == [entries["b1"]]  # the deleted one left out
        assert hotlists.list_entries("hl_c") == []

    def test_the_latest_version_wins(self, hotlists: HotlistSqlStore, runner: SqlRunner) -> None:
        hotlists.put_hotlist(hotlist("hl_a", 3, name="stolen"))
        hotlists.put_hotlist(hotlist("hl_a", 1, name="draft"))
        hotlists.put_hotlist(hotlist("hl_a", 2, name="older"))  # an older version arriving late loses
        hotlists.put_entry(entry("he_x", "hl_a", "京A11111"))
        hotlists.put_entry(entry("he_x", "hl_a", "京A11111", version=3, deleted=True))
        hotlists.put_entry(entry("he_x", "hl_a", "京A11111", version=2))
        for _ in range(2):  # before and after the engine merges the versions
            assert hotlists.get_hotlist("hl_a") == hotlist("hl_a", 3, name="stolen")
            assert [h.name for h in hotlists.list_hotlists()] == ["stolen"]
            assert hotlists.list_entries() == []
            for table in (HOTLISTS_TABLE, ENTRIES_TABLE):
                runner.command(fixed(f"OPTIMIZE TABLE {runner.database}.{table} FINAL"))
        assert rows(runner, HOTLISTS_TABLE) == 1

    def test_lists_sort_and_filter(self, hotlists: HotlistSqlStore) -> None:
        seed(hotlists)
        hotlists.put_hotlist(hotlist("hl_0", name="zulu"))
        hotlists.put_hotlist(hotlist("hl_9", name="alpha"))
        assert [h.hotlist_id for h in hotlists.list_hotlists()] == ["hl_9", "hl_a", "hl_b", "hl_0"]
        assert [e.entry_id for e in hotlists.list_entries()] == ["he_a1", "he_a2", "he_a3", "he_b1"]
        assert [e.entry_id for e in hotlists.list_entries("hl_b")] == ["he_b1"]
        batch = [entry(f"he_z{n}", "hl_0", f"京Z0000{n}", 10 - n) for n in range(3)]
        hotlists.put_entries(batch)
        hotlists.put_entries([])
        assert hotlists.list_entries("hl_0") == batch[::-1]  # oldest first

    def test_deleting_an_entry_appends_a_deleted_version(
        self, hotlists: HotlistSqlStore, runner: SqlRunner
    ) -> None:
        entries = seed(hotlists)
        deleted = hotlists.delete_entry("he_a2")
        assert deleted == entries["a2"].model_copy(update={"version": 2, "deleted": True})
        assert [e.entry_id for e in hotlists.list_entries("hl_a")] == ["he_a1", "he_a3"]
        assert newest(runner, "he_a2") == (2, 1)
        assert hotlists.delete_entry("he_a2") is None  # already deleted
        assert hotlists.delete_entry("he_b2") is None
        assert newest(runner, "he_a2") == (2, 1) and newest(runner, "he_b2") == (2, 1)

    def test_erasing_a_list_removes_its_rows_from_both_tables(
        self, hotlists: HotlistSqlStore, runner: SqlRunner
    ) -> None:
        entries = seed(hotlists)
        assert hotlists.erase_hotlist("hl_b") == 1  # live entries; the deleted one goes too
        for table in (HOTLISTS_TABLE, ENTRIES_TABLE):
            assert rows(runner, table, "hotlist_id = 'hl_b'") == 0, table
        assert hotlists.get_hotlist("hl_b") is None and hotlists.list_entries("hl_b") == []
        assert hotlists.list_entries() == [entries["a1"], entries["a2"], entries["a3"]]
        assert [h.hotlist_id for h in hotlists.list_hotlists()] == ["hl_a"]
        assert hotlists.erase_hotlist("hl_b") == 0
        hotlists.put_hotlist(hotlist("hl_e"))
        assert hotlists.erase_hotlist("hl_e") == 0 and rows(runner, HOTLISTS_TABLE) == 1

    @pytest.mark.parametrize("bad_id", BAD_IDS)
    def test_unknown_or_hostile_ids_find_nothing_and_erase_nothing(
        self, hotlists: HotlistSqlStore, runner: SqlRunner, bad_id: str
    ) -> None:
        seed(hotlists)
        before = [keys(runner, t) for t in (HOTLISTS_TABLE, ENTRIES_TABLE)]
        assert hotlists.get_hotlist(bad_id) is None and hotlists.list_entries(bad_id) == []
        assert hotlists.delete_entry(bad_id) is None
        assert hotlists.erase_hotlist(bad_id) == 0
        assert [keys(runner, t) for t in (HOTLISTS_TABLE, ENTRIES_TABLE)] == before
        assert newest(runner, "he_a1") == (1, 0)

    @pytest.mark.parametrize(("list_expiry", "entry_expiry", "now_ms", "expired"), EXPIRY_CASES)
    def test_expire(
        self,
        hotlists: HotlistSqlStore,
        runner: SqlRunner,
        list_expiry: int | None,
        entry_expiry: int | None,
        now_ms: int,
        expired: tuple[bool, bool],
    ) -> None:
        seed(hotlists)  # nothing of it expires
        hotlists.put_hotlist(hotlist("hl_t", expires_ts_ms=list_expiry))
        hotlists.put_entry(entry("he_t", "hl_t", "京T00001", 9, expires_ts_ms=entry_expiry))
        hotlists.put_entry(entry("he_u", "hl_t", "京T00002", 9))
        list_gone, entry_gone = expired
        assert hotlists.expire(now_ms) == (["hl_t"] if list_gone or entry_gone else [])
        assert (hotlists.get_hotlist("hl_t") is None) is list_gone
        live = [e.entry_id for e in hotlists.list_entries("hl_t")]
        assert live == ([] if list_gone else ["he_u"] if entry_gone else ["he_t", "he_u"])
        assert keys(runner, ENTRIES_TABLE, "hotlist_id = 'hl_t'") == (0 if list_gone else 2)
        if not list_gone:
            assert newest(runner, "he_t") == ((2, 1) if entry_gone else (1, 0))
        assert len(hotlists.list_entries()) == 4 + len(live)  # the seeded ones stay
        assert hotlists.expire(now_ms) == []  # nothing left that is due

    def test_the_workers_start_from_the_store(self, hotlists: HotlistSqlStore) -> None:
        entries = seed(hotlists)
        hotlists.put_hotlist(hotlist("hl_0", name="empty"))
        changes = hotlists_from_store(hotlists)
        assert [c.hotlist_id for c in changes] == ["hl_0", "hl_a", "hl_b"]
        assert changes[1] == hotlist_change(hotlist("hl_a", max_distance=2), list(entries.values())[:3])
        assert [c.entries for c in changes][::2] == [[], [entries["b1"]]]
