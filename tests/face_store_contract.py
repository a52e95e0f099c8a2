"""The behaviour `FaceSqlStore` shares on every engine, as one test class: record round trips, latest
version wins, list filters, physical erasure (proved by querying the tables themselves) and expiry.

A test module runs it by subclassing `FaceStoreContract` (named `Test...`) and providing `faces` (an
empty store, schema in place) and `runner` (the `SqlRunner` under it) fixtures: tests/unit/test_face_store.py
on chDB, tests/integration/test_face_store_clickhouse.py on the ClickHouse 18.16 server."""

from __future__ import annotations

import hashlib
import random
from array import array
from typing import Any

import pytest

from events.faces import EMBEDDING_DIM, Erasure, FaceEmbedding, FaceNegative, Identity, Watchlist
from events.schema import Severity
from events.store.faces_sql import (
    EMBEDDINGS_TABLE,
    IDENTITIES_TABLE,
    IDENTITY_TABLES,
    NEGATIVES_TABLE,
    WATCHLISTS_TABLE,
    FaceSqlStore,
)
from events.store.runner import SqlRunner
from tests.store_fixtures import T0_MS, fixed, rows, versioned

#: Text that breaks naive quoting (kept intact in every text column).
HOSTILE = "o'brien\\'; DROP TABLE identities; -- %(p0)s %s \n\t 通缉"
#: Ids a caller might pass that are no record's id: answered with nothing, never an error.
BAD_IDS = ["", "nope", "wl_' OR 1=1 --", "%(p0)s", "\\", "x" * 500]
#: Every byte value, then a JPEG-like run: what the image column must keep byte for byte.
IMAGE = bytes(range(256)) + b"\xff\xd8\xff\xe0" + random.Random(7).randbytes(200_000)


def vector(seed: int) -> list[float]:
    """A 128-d vector of Float32 values (what the column keeps exactly)."""
    rng = random.Random(seed)
    return array("f", (rng.uniform(-0.5, 0.5) for _ in range(EMBEDDING_DIM))).tolist()


def watchlist(wl_id: str, version: int = 1, **changes: Any) -> Watchlist:
    purpose = f"case 42: {HOSTILE}"
    return versioned(
        Watchlist,
        version,
        changes,
        watchlist_id=wl_id,
        name=f"list {wl_id}",
        purpose=purpose,
        created_by="admin",
    )


def identity(identity_id: str, wl_id: str, version: int = 1, **changes: Any) -> Identity:
    return versioned(
        Identity,
        version,
        changes,
        identity_id=identity_id,
        watchlist_id=wl_id,
        name=f"person {identity_id}",
        reference=HOSTILE,
        purpose="missing person report 7",
        created_by="operator",
    )


def embedding(embedding_id: str, who: Identity, n: int, image: bytes = IMAGE) -> FaceEmbedding:
    return FaceEmbedding(
        embedding_id=embedding_id,
        identity_id=who.identity_id,
        watchlist_id=who.watchlist_id,
        vector=vector(n),
        image_sha256=hashlib.sha256(image).hexdigest(),
        image_jpeg=image,
        quality=0.8125 + n / 1000,
        created_ts_ms=T0_MS + n,
    )


def negative(negative_id: str, who: Identity, n: int, track_id: int | None = None) -> FaceNegative:
    return FaceNegative(
        negative_id=negative_id,
        identity_id=who.identity_id,
        watchlist_id=who.watchlist_id,
        vector=vector(1000 + n),
        camera_id="cam-1",
        track_id=track_id,
        event_id=f"ev-{n}",
        created_by=HOSTILE,
        created_ts_ms=T0_MS + n,
    )


def seed(faces: FaceSqlStore) -> dict[str, Identity]:
    """wl_a (ann: 2 versions, 2 faces, 1 negative; bob: 1 face) and wl_b (cyd: 1 face, 1 negative)."""
    faces.put_watchlist(watchlist("wl_a"))
    faces.put_watchlist(watchlist("wl_b", severity=Severity.CRITICAL))
    people = {
        "ann": identity("id_ann", "wl_a", 2, name="Ann"),
        "bob": identity("id_bob", "wl_a", name="Bob"),
        "cyd": identity("id_cyd", "wl_b", name="Cyd"),
    }
    faces.put_identity(identity("id_ann", "wl_a", 1, name="Ann (draft)"))
    for person in people.values():
        faces.put_identity(person)
    faces.add_embeddings([embedding("em_ann1", people["ann"], 1), embedding("em_ann2", people["ann"], 2)])
    faces.add_embeddings(
        [embedding("em_bob1", people["bob"], 3), embedding("em_cyd1", people["cyd"], 4, b"")]
    )
    faces.add_negative(negative("ng_ann1", people["ann"], 5, track_id=17))
    faces.add_negative(negative("ng_cyd1", people["cyd"], 6))
    return people


#: expire() cases: (watchlist expiry, identity expiries by version, now) -> erased? (identity, watchlist)
EXPIRY_CASES = [
    pytest.param(None, [T0_MS], T0_MS, (True, False), id="identity-due-exactly-now"),
    pytest.param(None, [T0_MS - 1], T0_MS, (True, False), id="identity-past"),
    pytest.param(None, [T0_MS + 1], T0_MS, (False, False), id="identity-not-yet"),
    pytest.param(None, [None], T0_MS, (False, False), id="identity-never"),
    pytest.param(None, [T0_MS - 5, None], T0_MS, (False, False), id="only-an-old-version-was-due"),
    pytest.param(None, [None, T0_MS - 5], T0_MS, (True, False), id="newest-version-due"),
    pytest.param(T0_MS - 1, [None], T0_MS, (True, True), id="watchlist-past"),
    pytest.param(T0_MS, [T0_MS + 9], T0_MS, (True, True), id="watchlist-due-before-its-identity"),
    pytest.param(T0_MS + 1, [None], T0_MS, (False, False), id="watchlist-not-yet"),
]


#: find_identities(watchlist, name, reference) -> ids, over seed() (references HOSTILE) plus "Zoë Li"
#: (reference K-7) in wl_a
FIND_CASES = [
    pytest.param("wl_a", "Ann", HOSTILE, ["id_ann"], id="exact"),
    pytest.param("wl_a", "  aNN ", f" {HOSTILE} ", ["id_ann"], id="trimmed-any-case"),
    pytest.param("wl_a", "Ann", "", [], id="without-its-reference"),
    pytest.param("wl_a", "Ann (draft)", HOSTILE, [], id="an-old-name-only"),
    pytest.param("wl_b", "Ann", HOSTILE, [], id="other-watchlist"),
    pytest.param("wl_a", "An", HOSTILE, [], id="part-of-a-name"),
    pytest.param("wl_a", "ZOË LI", "K-7", ["id_zoe"], id="non-ascii-case"),
    pytest.param("wl_a", "Zoë Li", "K-8", [], id="other-reference"),
]


class FaceStoreContract:
    @pytest.mark.parametrize(("watchlist_id", "name", "reference", "expected"), FIND_CASES)
    def test_find_identities_reads_only_the_same_person(
        self, faces: FaceSqlStore, watchlist_id: str, name: str, reference: str, expected: list[str]
    ) -> None:
        seed(faces)
        faces.put_identity(identity("id_zoe", "wl_a", name="Zoë Li", reference="K-7"))
        assert [i.identity_id for i in faces.find_identities(watchlist_id, name, reference)] == expected

    def test_records_round_trip(self, faces: FaceSqlStore) -> None:
        people = seed(faces)
        expiring = watchlist("wl_c", expires_ts_ms=T0_MS + 60_000, threshold=0.42, severity=Severity.LOW)
        faces.put_watchlist(expiring)
        assert faces.get_watchlist("wl_c") == expiring
        assert faces.get_watchlist("wl_b") == watchlist("wl_b", severity=Severity.CRITICAL)
        assert faces.get_identity("id_ann") == people["ann"]
        assert faces.get_identity("id_cyd") == people["cyd"]
        ann1 = embedding("em_ann1", people["ann"], 1)
        assert faces.get_embedding("em_ann1") == ann1
        assert faces.get_embedding("em_cyd1") == embedding("em_cyd1", people["cyd"], 4, b"")
        assert faces.list_embeddings("id_ann", with_images=True)[0].image_jpeg == IMAGE
        assert faces.list_negatives("id_ann") == [negative("ng_ann1", people["ann"], 5, track_id=17)]
        assert faces.list_negatives("id_cyd") == [negative("ng_cyd1", people["cyd"], 6)]

    def test_embeddings_without_images_leave_only_the_image_out(self, faces: FaceSqlStore) -> None:
        seed(faces)
        with_images = faces.list_embeddings(with_images=True)
        without = faces.list_embeddings()
        assert [e.embedding_id for e in without] == [
            "em_ann1",
            "em_ann2",
            "em_bob1",
            "em_cyd1",
        ]  # oldest first
        assert all(e.image_jpeg == b"" for e in without)
        assert without == [e.model_copy(update={"image_jpeg": b""}) for e in with_images]
        assert with_images[0].image_jpeg == IMAGE

    def test_the_latest_version_wins(self, faces: FaceSqlStore, runner: SqlRunner) -> None:
        faces.put_watchlist(watchlist("wl_a", 3, name="staff"))
        faces.put_watchlist(watchlist("wl_a", 1, name="draft"))
        faces.put_watchlist(watchlist("wl_a", 2, name="older"))  # an older version arriving late loses
        faces.put_identity(identity("id_x", "wl_a", 1))
        faces.put_identity(identity("id_x", "wl_b", 2, name="moved"))
        for _ in range(2):  # before and after the engine merges the versions
            assert faces.get_watchlist("wl_a") == watchlist("wl_a", 3, name="staff")
            assert [w.name for w in faces.list_watchlists()] == ["staff"]
            assert faces.get_identity("id_x") == identity("id_x", "wl_b", 2, name="moved")
            assert faces.list_identities("wl_a") == []  # the filter applies to the newest version
            assert [i.name for i in faces.list_identities("wl_b")] == ["moved"]
            for table in (WATCHLISTS_TABLE, IDENTITIES_TABLE):
                runner.command(fixed(f"OPTIMIZE TABLE {runner.database}.{table} FINAL"))
        assert rows(runner, WATCHLISTS_TABLE) == 1

    def test_lists_filter_and_sort(self, faces: FaceSqlStore) -> None:
        seed(faces)
        faces.put_watchlist(watchlist("wl_0", name="zulu"))
        assert [w.watchlist_id for w in faces.list_watchlists()] == ["wl_a", "wl_b", "wl_0"]  # by name
        assert [i.name for i in faces.list_identities()] == ["Ann", "Bob", "Cyd"]
        assert [i.identity_id for i in faces.list_identities("wl_a")] == ["id_ann", "id_bob"]
        assert [i.identity_id for i in faces.list_identities("wl_b")] == ["id_cyd"]
        assert [e.embedding_id for e in faces.list_embeddings("id_ann")] == ["em_ann1", "em_ann2"]
        assert [n.negative_id for n in faces.list_negatives()] == ["ng_ann1", "ng_cyd1"]
        assert faces.list_identities("wl_0") == [] and faces.list_negatives("id_bob") == []
        assert faces.image_shas("wl_a") == {hashlib.sha256(IMAGE).hexdigest()}
        assert faces.image_shas("wl_b") == {hashlib.sha256(b"").hexdigest()}
        assert faces.image_shas("wl_0") == set()

    def test_erasing_an_identity_removes_its_rows_from_every_table(
        self, faces: FaceSqlStore, runner: SqlRunner
    ) -> None:
        people = seed(faces)
        others_before = (faces.list_embeddings("id_bob", with_images=True), faces.list_negatives("id_cyd"))
        assert faces.erase_identity("id_ann") == Erasure(identities=1, embeddings=2, negatives=1)
        for table in IDENTITY_TABLES:  # no version, face, image or negative left behind
            assert rows(runner, table, "identity_id = 'id_ann'") == 0, table
        assert rows(runner, EMBEDDINGS_TABLE) == 2 and rows(runner, NEGATIVES_TABLE) == 1
        assert faces.get_identity("id_ann") is None and faces.get_embedding("em_ann1") is None
        assert faces.list_embeddings("id_ann") == [] and faces.list_negatives("id_ann") == []
        assert faces.get_identity("id_bob") == people["bob"]
        assert (
            faces.list_embeddings("id_bob", with_images=True),
            faces.list_negatives("id_cyd"),
        ) == others_before
        assert faces.get_watchlist("wl_a") is not None

    def test_erasing_a_watchlist_removes_it_and_its_identities(
        self, faces: FaceSqlStore, runner: SqlRunner
    ) -> None:
        people = seed(faces)
        assert faces.erase_watchlist("wl_a") == Erasure(identities=2, embeddings=3, negatives=1)
        assert faces.get_watchlist("wl_a") is None
        for table in (WATCHLISTS_TABLE, *IDENTITY_TABLES):
            assert rows(runner, table, "watchlist_id = 'wl_a'") == 0, table
            if table != WATCHLISTS_TABLE:
                assert rows(runner, table, "identity_id IN ('id_ann', 'id_bob')") == 0, table
        assert faces.list_identities() == [people["cyd"]]
        assert [e.embedding_id for e in faces.list_embeddings()] == ["em_cyd1"]
        assert faces.erase_watchlist("wl_a") == Erasure(0, 0, 0)

    def test_an_emptied_watchlist_is_erased_too(self, faces: FaceSqlStore, runner: SqlRunner) -> None:
        faces.put_watchlist(watchlist("wl_e"))
        assert faces.erase_watchlist("wl_e") == Erasure(0, 0, 0)
        assert rows(runner, WATCHLISTS_TABLE) == 0

    def test_members_moved_from_another_list_are_erased_in_steps(
        self, faces: FaceSqlStore, runner: SqlRunner
    ) -> None:
        """Rows stamped with an older list go too (by id, `max_ids_per_step` ids at once), counted once."""
        people = [identity(f"id_{n:03d}", "wl_old") for n in range(25)]
        faces.put_watchlist(watchlist("wl_old"))
        faces.put_watchlist(watchlist("wl_big"))
        for person in people:
            faces.put_identity(person)
            faces.put_identity(person.model_copy(update={"watchlist_id": "wl_big", "version": 2}))
        faces.add_embeddings([embedding(f"em_{n}", p, n, b"\x00") for n, p in enumerate(people)])
        steps = FaceSqlStore(runner, max_ids_per_step=4)
        assert steps.erase_watchlist("wl_big") == Erasure(identities=25, embeddings=25, negatives=0)
        assert sum(rows(runner, t) for t in IDENTITY_TABLES) == 0
        assert [w.watchlist_id for w in faces.list_watchlists()] == ["wl_old"]

    @pytest.mark.parametrize("bad_id", BAD_IDS)
    def test_unknown_or_hostile_ids_find_nothing_and_erase_nothing(
        self, faces: FaceSqlStore, runner: SqlRunner, bad_id: str
    ) -> None:
        seed(faces)
        before = [rows(runner, t) for t in (WATCHLISTS_TABLE, *IDENTITY_TABLES)]
        assert faces.get_watchlist(bad_id) is None and faces.get_identity(bad_id) is None
        assert faces.get_embedding(bad_id) is None and faces.list_identities(bad_id) == []
        assert faces.list_embeddings(bad_id) == [] and faces.list_negatives(bad_id) == []
        assert faces.erase_identity(bad_id) == Erasure(0, 0, 0)
        assert faces.erase_watchlist(bad_id) == Erasure(0, 0, 0)
        assert [rows(runner, t) for t in (WATCHLISTS_TABLE, *IDENTITY_TABLES)] == before

    @pytest.mark.parametrize(("wl_expiry", "versions", "now_ms", "erased"), EXPIRY_CASES)
    def test_expire(
        self,
        faces: FaceSqlStore,
        runner: SqlRunner,
        wl_expiry: int | None,
        versions: list[int | None],
        now_ms: int,
        erased: tuple[bool, bool],
    ) -> None:
        seed(faces)  # nothing of it expires
        faces.put_watchlist(watchlist("wl_t", expires_ts_ms=wl_expiry))
        for version, expiry in enumerate(versions, start=1):
            faces.put_identity(identity("id_t", "wl_t", version, expires_ts_ms=expiry))
        faces.add_embeddings([embedding("em_t", identity("id_t", "wl_t"), 9)])
        identity_gone, watchlist_gone = erased
        expected = [("identity", "id_t")] * identity_gone + [("watchlist", "wl_t")] * watchlist_gone
        assert faces.expire(now_ms) == expected
        assert (faces.get_identity("id_t") is None) is identity_gone
        assert (faces.get_watchlist("wl_t") is None) is watchlist_gone
        assert rows(runner, EMBEDDINGS_TABLE, "identity_id = 'id_t'") == (0 if identity_gone else 1)
        assert len(faces.list_identities()) == 3 + (not identity_gone)  # the seeded ones stay
        assert faces.expire(now_ms) == []  # nothing left that is due
