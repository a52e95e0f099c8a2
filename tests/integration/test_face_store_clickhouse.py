"""FaceSqlStore on the ClickHouse server of deploy/local/start (Debian's 18.16, whose ALTER DELETE
mutations have no `mutations_sync`): tests/face_store_contract.py as on chDB, each test in a database of
its own; the DDL the server got and the image bytes it keeps."""

from __future__ import annotations

import pytest

from events.store.clickhouse_store import ClickHouseStore
from events.store.faces_sql import EMBEDDINGS_TABLE, IDENTITIES_TABLE, FaceSqlStore
from tests.face_store_contract import IMAGE, FaceStoreContract, embedding, identity, seed
from tests.store_fixtures import record_store_fixture

pytestmark = pytest.mark.integration


faces = record_store_fixture(FaceSqlStore, empty=False)  # over conftest's `runner`: a database per test


class TestFaceStoreOnClickHouse(FaceStoreContract):
    pass


def test_ddl_fits_the_server(faces: FaceSqlStore, store: ClickHouseStore) -> None:
    identities = str(store._execute(f"SHOW CREATE TABLE {store.database}.{IDENTITIES_TABLE}")[0][0])
    embeddings = str(store._execute(f"SHOW CREATE TABLE {store.database}.{EMBEDDINGS_TABLE}")[0][0])
    assert "ReplacingMergeTree(version)" in identities and "LowCardinality" not in identities
    assert "Array(Float32)" in embeddings


def test_images_are_stored_as_their_bytes(faces: FaceSqlStore, store: ClickHouseStore) -> None:
    seed(faces)
    faces.add_embeddings([embedding("em_z", identity("id_z", "wl_a"), 9, IMAGE[:256])])
    table = f"{store.database}.{EMBEDDINGS_TABLE}"
    got = store._execute(
        f"SELECT length(image_jpeg), hex(image_jpeg) FROM {table} WHERE embedding_id = 'em_z'"
    )
    assert got == [(256, IMAGE[:256].hex().upper())]
