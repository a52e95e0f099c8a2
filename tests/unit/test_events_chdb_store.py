"""ChdbStore on a real embedded engine in a temp folder: the shared store contract (tests/store_contract.py)
plus what is chDB's own: reopening a folder, closing, the folder lock, retention as a TTL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from events.ports import EventQuery, StoreError
from events.store.chdb_store import ChdbStore
from tests.store_contract import StoreContract
from tests.unit.events_samples import sample_events

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChdbStore]:
    s = ChdbStore(tmp_path / "chdb")
    s.ensure_schema()
    yield s
    s.close()


class TestChdbStoreContract(StoreContract):
    """Dedupe, filters, pagination, get, counts, hostile text, threads, refusals: on chDB."""


def test_schema_is_idempotent_and_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "chdb"
    first = ChdbStore(path)
    first.ensure_schema()
    first.insert(sample_events()[:4])
    first.close()
    second = ChdbStore(path)
    try:
        second.ensure_schema()
        assert second.query(EventQuery()).total == 4
    finally:
        second.close()


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    s = ChdbStore(tmp_path / "chdb")
    s.close()
    with pytest.raises(StoreError, match="is closed"):
        s.query(EventQuery())


def test_the_same_folder_twice_in_one_process_is_refused(store: ChdbStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="already open in this process"):
        ChdbStore(tmp_path / "chdb")
    assert store.query(EventQuery()).total == 0  # the first one is unharmed


def test_a_second_process_on_the_same_folder_gets_a_clear_error(store: ChdbStore, tmp_path: Path) -> None:
    store.insert(sample_events()[:3])
    code = (
        "import sys\nfrom pathlib import Path\nfrom events.ports import StoreError\n"
        "from events.store.chdb_store import ChdbStore\n"
        "try:\n    ChdbStore(Path(sys.argv[1]))\nexcept StoreError as exc:\n    print(exc)\n    sys.exit(3)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "chdb")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "is in use by another anfang process" in proc.stdout
    assert store.query(EventQuery()).total == 3  # nothing disturbed


def test_retention_becomes_a_ttl_on_the_modern_engine(tmp_path: Path) -> None:
    s = ChdbStore(tmp_path / "chdb", database="ttl_db", retention_days=30)
    try:
        s.ensure_schema()
        assert s.features.ttl
        ddl = s._rows("SHOW CREATE TABLE ttl_db.events")[0][0]
        assert "TTL toDateTime(intDiv(ts_ms, 1000), 'UTC') + toIntervalDay(30)" in ddl
        assert s.insert(sample_events()[:2]) == 2
    finally:
        s.close()
