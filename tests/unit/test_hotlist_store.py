"""Plate hotlists: the records and changes of events/hotlists.py, and HotlistSqlStore on chDB (the shared
contract in tests/hotlist_store_contract.py, also run on ClickHouse 18.16 in
tests/integration/test_hotlist_store_clickhouse.py), its DDL and its erasure without a needless mutation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from events.hotlists import (
    HOTLIST_MAX_DISTANCE,
    HotlistChange,
    HotlistStore,
    entry_match,
    hotlist_change,
    hotlist_change_key,
    hotlist_removed,
    validate_pattern,
)
from events.ports import StoreError
from events.store.chdb_store import ChdbStore
from events.store.hotlists_sql import ENTRIES_TABLE, TABLES, HotlistSqlStore
from tests.hotlist_store_contract import HotlistStoreContract, entry, hotlist, seed
from tests.store_fixtures import SpyRunner, chdb_fixture, fixed, record_store_fixture, rows

DATABASE = "hotlists_unit"


runner = chdb_fixture(DATABASE)
hotlists = record_store_fixture(HotlistSqlStore, empty=True)


class TestHotlistStoreOnChdb(HotlistStoreContract):
    pass


# --- the records -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "requested", "expected"),
    [
        ("京A12345", None, "fuzzy"),
        ("京A12345", "exact", "exact"),
        ("京A12345", "fuzzy", "fuzzy"),
        ("京A*", None, "wildcard"),
        ("粤Z?23?港", None, "wildcard"),
        ("京A*", "exact", ValueError),
        ("京A?", "fuzzy", ValueError),
    ],
)
def test_entry_match(pattern: str, requested: Any, expected: Any) -> None:
    if expected is ValueError:
        with pytest.raises(ValueError, match=r"has wildcards"):
            entry_match(pattern, requested)
    else:
        assert entry_match(pattern, requested) == expected


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"pattern": "京A*", "match": "exact"}, "cannot have the pattern"),
        ({"pattern": "京A12345", "match": "wildcard"}, "cannot have the pattern"),
        ({"note": "x" * 201}, "at most 200"),
        ({"entry_id": "he 1"}, "should match pattern"),
        ({"match": "regex"}, "literal_error|Input should be"),
    ],
)
def test_bad_entries_are_refused(changes: dict[str, Any], problem: str) -> None:
    data = entry("he_1", "hl_a", "京A12345").model_dump() | changes
    with pytest.raises(ValidationError, match=problem):
        type(entry("he_1", "hl_a", "京A12345")).model_validate(data)


@pytest.mark.parametrize(
    ("distance", "ok"), [(-1, False), (0, True), (HOTLIST_MAX_DISTANCE, True), (3, False)]
)
def test_a_lists_distance_is_bounded(distance: int, ok: bool) -> None:
    data = hotlist("hl_a").model_dump() | {"max_distance": distance}
    if ok:
        assert type(hotlist("hl_a")).model_validate(data).max_distance == distance
    else:
        with pytest.raises(ValidationError, match="max_distance"):
            type(hotlist("hl_a")).model_validate(data)


def test_a_change_carries_the_whole_live_list_and_round_trips_as_json() -> None:
    live, deleted = entry("he_1", "hl_a", "京A12345"), entry("he_2", "hl_a", "京B*", deleted=True, version=2)
    stray = entry("he_3", "hl_b", "京C12345")
    change = hotlist_change(hotlist("hl_a"), [live, deleted, stray])
    assert change.entries == [live] and change.hotlist == hotlist("hl_a")
    assert HotlistChange.model_validate_json(change.model_dump_json()) == change
    removed = hotlist_removed("hl_a")
    assert (removed.hotlist, removed.entries) == (None, [])
    assert hotlist_change_key(change) == hotlist_change_key(removed) == "hotlist:hl_a"


def test_validate_pattern_limits_are_arguments() -> None:
    assert validate_pattern("京A123", max_chars=5) == "京A123"
    with pytest.raises(ValueError, match="longer than 4"):
        validate_pattern("京A123", max_chars=4)
    with pytest.raises(ValueError, match="at least 3"):
        validate_pattern("京A*", min_literal_chars=3)


# --- the store on chDB -------------------------------------------------------------------------


def test_it_is_a_hotlist_store(hotlists: HotlistSqlStore) -> None:
    store: HotlistStore = hotlists  # mypy checks the protocol
    assert store.list_hotlists() == []


def test_both_tables_keep_versions(hotlists: HotlistSqlStore, runner: ChdbStore) -> None:
    for table in TABLES:
        ddl = str(runner.select(fixed(f"SHOW CREATE TABLE {DATABASE}.{table}"))[0][0])
        assert "ReplacingMergeTree(version)" in ddl and "LowCardinality" not in ddl


def test_an_erasure_that_finds_nothing_starts_no_mutation(
    hotlists: HotlistSqlStore, runner: ChdbStore
) -> None:
    seed(hotlists)
    spy = SpyRunner(runner)
    assert HotlistSqlStore(spy).erase_hotlist("hl_nope") == 0
    assert HotlistSqlStore(spy).expire(0) == []
    assert not any(s.startswith(("ALTER", "INSERT")) for s in spy.statements)
    assert HotlistSqlStore(spy).erase_hotlist("hl_a") == 3
    alters = [s for s in spy.statements if s.startswith("ALTER")]
    assert len(alters) == len(TABLES) and all("DELETE WHERE hotlist_id IN ('hl_a')" in s for s in alters)
    assert rows(runner, ENTRIES_TABLE, "hotlist_id = 'hl_a'") == 0


def test_lists_are_erased_in_steps(hotlists: HotlistSqlStore, runner: ChdbStore) -> None:
    for n in range(5):
        hotlists.put_hotlist(hotlist(f"hl_{n}", expires_ts_ms=1))
        hotlists.put_entry(entry(f"he_{n}", f"hl_{n}", "京A12345"))
    spy = SpyRunner(runner)
    assert HotlistSqlStore(spy, max_ids_per_step=2).expire(10) == [f"hl_{n}" for n in range(5)]
    assert len([s for s in spy.statements if s.startswith("ALTER")]) == 3 * len(TABLES)
    assert sum(rows(runner, t) for t in TABLES) == 0


def test_an_erasure_that_does_not_finish_names_the_table(
    hotlists: HotlistSqlStore, runner: ChdbStore
) -> None:
    seed(hotlists)
    stuck = HotlistSqlStore(SpyRunner(runner, stuck_mutations=True), mutation_timeout_s=0.05)
    with pytest.raises(StoreError, match=rf"erasure in table {DATABASE}\.hotlists did not finish"):
        stuck.erase_hotlist("hl_a")


@pytest.mark.parametrize("bad", [{"mutation_timeout_s": 0}, {"max_ids_per_step": 0}])
def test_bad_limits_are_refused(runner: ChdbStore, bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        HotlistSqlStore(runner, **bad)
