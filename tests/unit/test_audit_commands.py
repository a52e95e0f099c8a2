"""`anfang audit verify` (anfang/audit_commands.py) on a real chDB data folder: exit 0 when intact,
1 naming chain and seq when a row was edited or deleted, 2 when it cannot run; the admin-socket
handler and the way through the running service while it holds the folder."""

from __future__ import annotations

import fcntl
import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from anfang.audit_commands import (
    EXIT_CANNOT_RUN,
    EXIT_INTACT,
    EXIT_TAMPERED,
    VERIFY_REQUEST,
    audit_chain_id,
    audit_verify,
    audit_verify_handler,
    open_audit_log,
)
from anfang.settings import Settings
from events.audit import AuditRecord, AuditVerification
from events.ports import EventStore, StoreError
from events.store.audit_sql import AUDIT_TABLE
from events.store.chdb_store import LOCK_FILE_NAME, ChdbStore

T0_MS = 1_795_000_000_000


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("audit-data"))


def settings_for(data_dir: Path, **fields: Any) -> Settings:
    return Settings(data_dir=data_dir, **fields)


def run_verify(settings: Settings, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = audit_verify(settings, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def rewrite(data_dir: Path, rows: int, *statements: str) -> None:
    """A fresh trail of `rows` rows in chain api-test (and 2 in cli-x), then `statements` on it."""
    store = ChdbStore(data_dir / "chdb")  # the database `make_store` opens
    try:
        store.ensure_schema()
        log = open_audit_log(store, "api-test")
        store.command(lambda _: f"TRUNCATE TABLE {store.database}.{AUDIT_TABLE}")
        store.command(lambda _: f"TRUNCATE TABLE {store.database}.audit_heads")
        other = open_audit_log(store, "cli-x")
        for i in range(rows):
            log.append(AuditRecord(ts_ms=T0_MS + i, actor="alice", action="alert.acknowledge"))
        for i in range(2):
            other.append(AuditRecord(ts_ms=T0_MS + i, actor="cli:root", action="user.create", source="cli"))
        for statement in statements:
            store.command(lambda _, s=statement: f"{s} SETTINGS mutations_sync = 1")  # type: ignore[misc]
    finally:
        store.close()


def test_an_intact_trail_exits_0_with_a_summary(data_dir: Path) -> None:
    rewrite(data_dir, 6)
    code, out, err = run_verify(settings_for(data_dir))
    assert (code, err) == (EXIT_INTACT, "")
    assert "8 row(s) in 2 chain(s)" in out
    assert "chain api-test: 6 rows checked (seq 0..5, head at seq 5), 0 problem(s)" in out
    assert "chain cli-x: 2 rows checked" in out and "INTACT" in out


@pytest.mark.parametrize(
    ("statement", "finding"),
    [
        (
            "ALTER TABLE anfang.audit_log UPDATE actor = 'mallory' WHERE chain_id = 'api-test' AND seq = 2",
            "chain api-test seq 2: row edited (its content does not match its hash)",
        ),
        (
            "ALTER TABLE anfang.audit_log DELETE WHERE chain_id = 'api-test' AND seq = 3",
            "chain api-test: seq 3 missing (deleted rows)",
        ),
        (
            "ALTER TABLE anfang.audit_log DELETE WHERE chain_id = 'api-test' AND seq = 5",
            "chain api-test: seq 5 missing (deleted at the end: the head record says the chain reaches it)",
        ),
    ],
    ids=["edited", "deleted", "last deleted"],
)
def test_an_edited_or_deleted_row_exits_1_naming_it(data_dir: Path, statement: str, finding: str) -> None:
    rewrite(data_dir, 6, statement)
    code, out, _ = run_verify(settings_for(data_dir))
    assert code == EXIT_TAMPERED
    assert "TAMPERED: 1 problem(s):" in out and f"  {finding}" in out
    assert "chain cli-x: 2 rows checked (seq 0..1, head at seq 1), 0 problem(s)" in out


def test_a_missing_store_exits_2(tmp_path: Path) -> None:
    code, out, err = run_verify(settings_for(tmp_path / "nowhere"))
    assert (code, out) == (EXIT_CANNOT_RUN, "")
    assert "no store at" in err and not (tmp_path / "nowhere").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_exits_2(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, mode="distributed", clickhouse_port=_free_port(), connect_timeout_s=1.0)
    code, _, err = run_verify(settings)
    assert code == EXIT_CANNOT_RUN and "cannot open the store" in err


@pytest.fixture
def held_folder(data_dir: Path) -> Iterator[Path]:
    """The data folder's lock held as the running service would (another pid in the lock file)."""
    rewrite(data_dir, 3)
    lock = (data_dir / "chdb" / LOCK_FILE_NAME).open("a+", encoding="utf-8")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid() + 100_000))
    lock.flush()
    yield data_dir
    lock.close()


class FixedReader:
    def __init__(self, result: AuditVerification | Exception) -> None:
        self.result = result

    def query(self, q: object) -> Any:
        raise AssertionError("verify only")

    def verify(self) -> AuditVerification:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_while_the_service_holds_the_folder_verify_asks_it(held_folder: Path) -> None:
    code, _, err = run_verify(settings_for(held_folder))
    assert code == EXIT_CANNOT_RUN and "in use by another anfang process" in err

    asked: list[dict[str, Any]] = []
    tampered = AuditVerification(ok=False, rows=3, problems=["chain api-1 seq 1: row edited (...)"])
    handler = audit_verify_handler(FixedReader(tampered))

    def ask(request: dict[str, Any]) -> dict[str, Any]:
        asked.append(request)
        return handler(request)

    code, out, _ = run_verify(settings_for(held_folder), ask_service=ask)
    assert (code, asked) == (EXIT_TAMPERED, [VERIFY_REQUEST])
    assert "chain api-1 seq 1: row edited" in out

    code, out, _ = run_verify(settings_for(held_folder), ask_service=audit_verify_handler(FixedReader(
        AuditVerification(ok=True, rows=3))))  # fmt: skip
    assert code == EXIT_INTACT and "INTACT" in out

    failing = audit_verify_handler(FixedReader(StoreError("disk gone")))
    code, _, err = run_verify(settings_for(held_folder), ask_service=failing)
    assert code == EXIT_CANNOT_RUN and "store unavailable: disk gone" in err

    def unreachable(_: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionRefusedError("no admin socket")

    code, _, err = run_verify(settings_for(held_folder), ask_service=unreachable)
    assert code == EXIT_CANNOT_RUN and "did not answer: no admin socket" in err


def test_the_handler_answers_json_of_a_real_verification(data_dir: Path) -> None:
    rewrite(data_dir, 4)
    store = ChdbStore(data_dir / "chdb")
    try:
        answer = audit_verify_handler(open_audit_log(store, "api-test"))({})
    finally:
        store.close()
    assert (answer["ok"], answer["rows"], answer["problems"]) == (True, 6, [])
    assert answer["chains"][0] == {
        "chain_id": "api-test",
        "rows": 4,
        "first_seq": 0,
        "last_seq": 3,
        "head_seq": 3,
        "problems": 0,
    }


def test_chain_ids_name_process_and_worker(tmp_path: Path) -> None:
    embedded = settings_for(tmp_path, worker_id="host-a")
    assert audit_chain_id(embedded, "api") == "api-host-a"
    assert audit_chain_id(embedded, "cli") == "cli-host-a"
    distributed = settings_for(tmp_path, worker_id="host-a", mode="distributed")
    assert audit_chain_id(distributed, "api") == "api-host-a"
    assert audit_chain_id(distributed, "cli").startswith(f"cli-host-a-{os.getpid()}-")


def test_a_store_without_sql_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot run SQL"):
        open_audit_log(cast(EventStore, object()), "api-x")
