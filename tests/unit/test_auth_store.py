"""AuthStore: versioned users, API keys and refresh tokens (latest version wins), on chDB and in memory.

`auth_store_contract` is also run against the ClickHouse server (tests/integration/test_auth_clickhouse.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from events.auth import ApiKeyRecord, AuthStore, CameraScope, RefreshTokenRecord, Role, UserRecord
from events.store.auth_sql import API_KEYS_TABLE, REFRESH_TOKENS_TABLE, USERS_TABLE, AuthSqlStore
from events.store.chdb_store import ChdbStore
from events.store.runner import SqlBuilder, SqlRunner
from tests.unit.auth_fakes import MemoryAuthStore

HOSTILE = "o'brien\\'; DROP TABLE users; -- %(p0)s %s \n\t 警报"
SHA = "ab" * 32


def user(name: str, version: int = 1, **changes: object) -> UserRecord:
    base = UserRecord(
        username=name,
        role=Role.OPERATOR,
        password_hash=f"$argon2id$v=19$m=64,t=1,p=1${HOSTILE}",
        created_ts_ms=1_000,
        updated_ts_ms=1_000 + version,
        version=version,
    )
    return base.model_copy(update=changes)


def fixed(text: str) -> SqlBuilder:
    return lambda _bind: text


def fresh_sql_store(runner: SqlRunner) -> AuthSqlStore:
    store = AuthSqlStore(runner)
    store.ensure_schema()
    store.ensure_schema()  # idempotent
    for table in (USERS_TABLE, API_KEYS_TABLE, REFRESH_TOKENS_TABLE):
        runner.command(fixed(f"TRUNCATE TABLE {runner.database}.{table}"))
    return store


def auth_store_contract(store: AuthStore) -> None:
    """Latest version wins for every record kind, lists hold one row per record, text survives intact."""
    assert store.get_user("ann") is None
    assert store.list_users() == []
    store.put_user(user("ann"))
    store.put_user(
        user("bob", role=Role.ADMIN, scope=CameraScope(sites=("north",), cameras=("cam-1", "cam-2")))
    )
    store.put_user(user("ann", 3, role=Role.AUDITOR, disabled=True))
    store.put_user(user("ann", 2, role=Role.INTEGRATOR))  # an older version arriving late loses
    ann = store.get_user("ann")
    assert ann is not None
    assert (ann.version, ann.role, ann.disabled) == (3, Role.AUDITOR, True)
    assert ann.password_hash.endswith(HOSTILE)
    assert [u.username for u in store.list_users()] == ["ann", "bob"]
    assert store.get_user("bob") == user(
        "bob", role=Role.ADMIN, scope=CameraScope(sites=("north",), cameras=("cam-1", "cam-2"))
    )
    assert store.get_user(HOSTILE) is None

    key = ApiKeyRecord(
        key_id="0123456789abcdef",
        name=HOSTILE,
        role=Role.INTEGRATOR,
        scope=CameraScope(cameras=("cam-9",)),
        secret_sha256=SHA,
        created_by="cli:root",
        created_ts_ms=5,
    )
    older = key.model_copy(update={"key_id": "00000000000000aa", "created_ts_ms": 1})
    store.put_api_key(key)
    store.put_api_key(older)
    store.put_api_key(key.model_copy(update={"revoked": True, "version": 2}))
    assert store.get_api_key(key.key_id) == key.model_copy(update={"revoked": True, "version": 2})
    assert [k.key_id for k in store.list_api_keys()] == [older.key_id, key.key_id]  # oldest first
    assert store.get_api_key("ffffffffffffffff") is None

    token = RefreshTokenRecord(
        token_id="t1", username="ann", secret_sha256=SHA, expires_ts_ms=4_000_000_000_000
    )
    store.put_refresh_token(token)
    store.put_refresh_token(token.model_copy(update={"token_id": "t2"}))
    store.put_refresh_token(token.model_copy(update={"token_id": "t3", "username": "bob"}))
    store.put_refresh_token(token.model_copy(update={"revoked": True, "version": 2}))
    assert store.get_refresh_token("t1") == token.model_copy(update={"revoked": True, "version": 2})
    mine = sorted(store.list_refresh_tokens("ann"), key=lambda t: t.token_id)
    assert [(t.token_id, t.revoked) for t in mine] == [("t1", True), ("t2", False)]
    assert store.list_refresh_tokens(HOSTILE) == []


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStore]:
    store = ChdbStore(Path(tmp_path_factory.mktemp("auth_store")) / "chdb", database="auth_unit")
    yield store
    store.close()


def test_contract_on_chdb(chdb: ChdbStore) -> None:
    auth_store_contract(fresh_sql_store(chdb))


def test_contract_of_the_memory_fake() -> None:
    auth_store_contract(MemoryAuthStore())


def test_tables_are_replacing_merge_trees_and_tokens_expire_by_ttl(chdb: ChdbStore) -> None:
    fresh_sql_store(chdb)
    tables = (USERS_TABLE, API_KEYS_TABLE, REFRESH_TOKENS_TABLE)
    ddl = {t: str(chdb.select(fixed(f"SHOW CREATE TABLE auth_unit.{t}"))[0][0]) for t in tables}
    assert all("ReplacingMergeTree(version)" in text for text in ddl.values())
    assert "TTL" in ddl[REFRESH_TOKENS_TABLE] and "TTL" not in ddl[USERS_TABLE]


def test_reads_are_right_after_merges_too(chdb: ChdbStore) -> None:
    store = fresh_sql_store(chdb)
    for version in range(1, 6):
        store.put_user(user("cy", version, disabled=version % 2 == 0))
    chdb.command(lambda _b: f"OPTIMIZE TABLE auth_unit.{USERS_TABLE} FINAL")
    got = store.get_user("cy")
    assert got is not None and (got.version, got.disabled) == (5, False)
    assert len(chdb.select(lambda _b: f"SELECT * FROM auth_unit.{USERS_TABLE}")) == 1
