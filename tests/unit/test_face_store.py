"""FaceSqlStore on chDB: the shared contract (tests/face_store_contract.py, also run on ClickHouse 18.16 in
tests/integration/test_face_store_clickhouse.py), the DDL, what a gallery load reads, the erasure
timeout, and the bytes literal the image column needs."""

from __future__ import annotations

from typing import Any

import pytest

from events.faces import FaceStore
from events.ports import StoreError
from events.store.chdb_store import ChdbStore
from events.store.faces_sql import EMBEDDINGS_TABLE, IDENTITY_TABLES, WATCHLISTS_TABLE, FaceSqlStore
from events.store.sql import DriverParams, sql_literal
from tests.face_store_contract import FaceStoreContract, seed
from tests.store_fixtures import SpyRunner, chdb_fixture, fixed, record_store_fixture, rows

DATABASE = "faces_unit"


runner = chdb_fixture(DATABASE)
faces = record_store_fixture(FaceSqlStore, empty=True)


class TestFaceStoreOnChdb(FaceStoreContract):
    pass


def test_it_is_a_face_store(faces: FaceSqlStore) -> None:
    store: FaceStore = faces  # mypy checks the protocol
    assert store.list_watchlists() == []


def test_versioned_tables_replace_and_face_tables_are_plain(faces: FaceSqlStore, runner: ChdbStore) -> None:
    tables = (WATCHLISTS_TABLE, *IDENTITY_TABLES)
    ddl = {t: str(runner.select(fixed(f"SHOW CREATE TABLE {DATABASE}.{t}"))[0][0]) for t in tables}
    assert "ReplacingMergeTree(version)" in ddl[WATCHLISTS_TABLE]
    assert "ReplacingMergeTree(version)" in ddl["identities"]
    assert "ENGINE = MergeTree" in ddl[EMBEDDINGS_TABLE] and "ENGINE = MergeTree" in ddl["face_negatives"]
    assert all("LowCardinality" not in text for text in ddl.values())


def test_a_gallery_load_never_reads_the_image_column(faces: FaceSqlStore, runner: ChdbStore) -> None:
    seed(faces)
    spy = SpyRunner(runner)
    loaded = FaceSqlStore(spy).list_embeddings()
    assert len(loaded) == 4 and spy.statements
    assert all("image_jpeg" not in statement for statement in spy.statements)
    FaceSqlStore(spy).list_embeddings(with_images=True)
    assert "hex(image_jpeg)" in spy.statements[-1]  # the spy sees image reads when there are some


def test_an_erasure_that_does_not_finish_names_the_table(faces: FaceSqlStore, runner: ChdbStore) -> None:
    seed(faces)
    stuck = FaceSqlStore(SpyRunner(runner, stuck_mutations=True), mutation_timeout_s=0.05)
    with pytest.raises(StoreError, match=rf"erasure in table {DATABASE}\.identities did not finish"):
        stuck.erase_identity("id_ann")


def test_a_found_nothing_erasure_starts_no_mutation(faces: FaceSqlStore, runner: ChdbStore) -> None:
    seed(faces)
    spy = SpyRunner(runner)
    FaceSqlStore(spy).erase_identity("id_nobody")
    assert not any(s.startswith("ALTER") for s in spy.statements)
    FaceSqlStore(spy).erase_identity("id_bob")
    alters = [s for s in spy.statements if s.startswith("ALTER")]
    assert len(alters) == len(IDENTITY_TABLES) and all(
        "DELETE WHERE identity_id IN ('id_bob')" in s for s in alters
    )
    assert rows(runner, EMBEDDINGS_TABLE, "identity_id = 'id_bob'") == 0


@pytest.mark.parametrize("bad", [{"mutation_timeout_s": 0}, {"max_ids_per_step": 0}])
def test_bad_limits_are_refused(runner: ChdbStore, bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        FaceSqlStore(runner, **bad)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (b"", "''"),
        (b"ab", "'ab'"),
        (b"\xff\xd8\x00", "'\\xFF\\xD8\\x00'"),
        (b"'%\\", "'\\x27\\x25\\x5C'"),
    ],
)
def test_bytes_become_escaped_literals_without_percent(value: bytes, literal: str) -> None:
    assert sql_literal(value) == literal
    params = DriverParams()
    assert params(value) == literal and params.params == {}  # the driver cannot escape bytes: inlined


def test_every_byte_survives_a_chdb_round_trip(runner: ChdbStore) -> None:
    every = bytes(range(256)) * 3
    got = runner.select(lambda bind: f"SELECT hex({bind(every)}) AS h")[0][0]
    assert bytes.fromhex(str(got)) == every
