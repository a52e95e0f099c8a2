"""The hash-chained audit log on the real ClickHouse server deploy/local/start runs (Debian's 18.16):
the same checks as on chDB (tests/unit/test_audit_chain.py), with edits and deletes made as ALTER
TABLE ... UPDATE/DELETE mutations (waited for in system.mutations: 18.16 has no mutations_sync), in a
database of the test's own."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from events.store.audit_sql import AUDIT_TABLE
from events.store.clickhouse_store import ClickHouseStore
from tests.integration.conftest import LocalServers, fresh_clickhouse_store
from tests.unit import test_audit_chain as chain
from tests.unit.test_audit_chain import TAMPERING, Mutate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(local_servers: LocalServers) -> Iterator[ClickHouseStore]:
    with fresh_clickhouse_store(local_servers, "anfang_test_audit") as s:
        yield s


@pytest.fixture
def mutate(store: ClickHouseStore) -> Mutate:
    def run(statement: str, timeout_s: float = 30.0) -> None:
        store.command(lambda _: statement)
        deadline = time.monotonic() + timeout_s
        while store.select(
            lambda b: (
                f"SELECT count() FROM system.mutations WHERE database = {b(store.database)} AND is_done = 0"
            )
        )[0][0]:
            assert time.monotonic() < deadline, f"mutation not done in {timeout_s} s: {statement}"
            time.sleep(0.05)

    return run


def test_ddl_fits_the_server(store: ClickHouseStore) -> None:
    chain.fresh(store)
    ddl = str(store.select(lambda _: f"SHOW CREATE TABLE {store.database}.{AUDIT_TABLE}")[0][0])
    assert "MergeTree" in ddl and "Replacing" not in ddl and "ORDER BY (chain_id, seq)" in ddl
    heads = str(store.select(lambda _: f"SHOW CREATE TABLE {store.database}.audit_heads")[0][0])
    assert "ReplacingMergeTree(seq)" in heads


def test_threads_make_one_intact_chain(store: ClickHouseStore) -> None:
    chain.check_threads_make_one_intact_chain(store)


@pytest.mark.parametrize(("statement", "expected"), [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING])
def test_tampering_is_found(
    store: ClickHouseStore, mutate: Mutate, statement: str, expected: tuple[str, ...]
) -> None:
    chain.check_tampering_is_found(store, mutate, statement, expected)


def test_forgeries_with_valid_hashes_are_found(store: ClickHouseStore, mutate: Mutate) -> None:
    chain.check_forgeries_with_valid_hashes_are_found(store, mutate)


def test_restarts_continue_the_chain(store: ClickHouseStore, mutate: Mutate) -> None:
    chain.check_restarts_continue_the_chain(store, mutate)


def test_chains_are_verified_each_on_its_own(store: ClickHouseStore, mutate: Mutate) -> None:
    chain.check_chains_are_verified_each_on_its_own(store, mutate)


def test_hostile_text_is_stored_and_hashed_exactly(store: ClickHouseStore) -> None:
    chain.check_hostile_text_is_stored_and_hashed_exactly(store)


def test_queries_filter_and_page(store: ClickHouseStore) -> None:
    chain.check_queries_filter_and_page(store)
