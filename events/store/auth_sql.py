"""`AuthStore` on ClickHouse: users, API keys and refresh tokens as versioned rows.

Each table is a ReplacingMergeTree(version) ordered by the record's id: a change inserts the record's
next version, background merges drop the older ones, and every read takes the newest version itself
(`ORDER BY version DESC LIMIT 1 BY id`), so it is right before any merge too. The SQL runs unchanged on
ClickHouse 18.16 and on chDB (no window functions, no LowCardinality, no DateTime64); on engines with
TTL the refresh tokens leave the table a day after they expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from events.auth import ApiKeyRecord, CameraScope, RefreshTokenRecord, Role, UserRecord
from events.store.runner import SqlBuilder, SqlRunner
from events.store.sql import Binder, SqlValue, create_database_sql, create_table_sql, latest_sql

USERS_TABLE = "users"
API_KEYS_TABLE = "api_keys"
REFRESH_TOKENS_TABLE = "refresh_tokens"

USER_COLUMNS: tuple[str, ...] = (
    "username",
    "role",
    "sites",
    "cameras",
    "password_hash",
    "disabled",
    "created_ts_ms",
    "updated_ts_ms",
    "version",
)
API_KEY_COLUMNS: tuple[str, ...] = (
    "key_id",
    "name",
    "role",
    "sites",
    "cameras",
    "secret_sha256",
    "created_by",
    "created_ts_ms",
    "revoked",
    "version",
)
REFRESH_TOKEN_COLUMNS: tuple[str, ...] = (
    "token_id",
    "username",
    "secret_sha256",
    "expires_ts_ms",
    "revoked",
    "version",
)

_TYPES = {
    "username": "String",
    "role": "String",
    "sites": "Array(String)",
    "cameras": "Array(String)",
    "password_hash": "String",
    "disabled": "UInt8",
    "created_ts_ms": "Int64",
    "updated_ts_ms": "Int64",
    "version": "UInt64",
    "key_id": "String",
    "name": "String",
    "secret_sha256": "String",
    "created_by": "String",
    "revoked": "UInt8",
    "token_id": "String",
    "expires_ts_ms": "Int64",
}


def _scope(sites: Any, cameras: Any) -> CameraScope:
    return CameraScope(sites=tuple(str(s) for s in sites), cameras=tuple(str(c) for c in cameras))


def _int(value: Any) -> int:
    return int(str(value))  # chDB's JSON quotes 64-bit integers


def parse_user(row: Sequence[Any]) -> UserRecord:
    username, role, sites, cameras, password_hash, disabled, created, updated, version = row
    return UserRecord(
        username=str(username),
        role=Role(str(role)),
        scope=_scope(sites, cameras),
        password_hash=str(password_hash),
        disabled=bool(_int(disabled)),
        created_ts_ms=_int(created),
        updated_ts_ms=_int(updated),
        version=_int(version),
    )


def parse_api_key(row: Sequence[Any]) -> ApiKeyRecord:
    key_id, name, role, sites, cameras, secret_sha256, created_by, created, revoked, version = row
    return ApiKeyRecord(
        key_id=str(key_id),
        name=str(name),
        role=Role(str(role)),
        scope=_scope(sites, cameras),
        secret_sha256=str(secret_sha256),
        created_by=str(created_by),
        created_ts_ms=_int(created),
        revoked=bool(_int(revoked)),
        version=_int(version),
    )


def parse_refresh_token(row: Sequence[Any]) -> RefreshTokenRecord:
    token_id, username, secret_sha256, expires, revoked, version = row
    return RefreshTokenRecord(
        token_id=str(token_id),
        username=str(username),
        secret_sha256=str(secret_sha256),
        expires_ts_ms=_int(expires),
        revoked=bool(_int(revoked)),
        version=_int(version),
    )


def user_row(r: UserRecord) -> tuple[SqlValue, ...]:
    return (
        r.username,
        r.role.value,
        list(r.scope.sites),
        list(r.scope.cameras),
        r.password_hash,
        int(r.disabled),
        r.created_ts_ms,
        r.updated_ts_ms,
        r.version,
    )


def api_key_row(r: ApiKeyRecord) -> tuple[SqlValue, ...]:
    return (
        r.key_id,
        r.name,
        r.role.value,
        list(r.scope.sites),
        list(r.scope.cameras),
        r.secret_sha256,
        r.created_by,
        r.created_ts_ms,
        int(r.revoked),
        r.version,
    )


def refresh_token_row(r: RefreshTokenRecord) -> tuple[SqlValue, ...]:
    return (r.token_id, r.username, r.secret_sha256, r.expires_ts_ms, int(r.revoked), r.version)


def _fixed(statement: str) -> SqlBuilder:
    """A builder for a statement without values (DDL)."""

    def build(_bind: Binder) -> str:
        return statement

    return build


class AuthSqlStore:
    """`events.auth.AuthStore` on a `SqlRunner` (ChdbStore or ClickHouseStore); tables in its database."""

    def __init__(self, runner: SqlRunner) -> None:
        self._runner = runner
        self._db = runner.database

    def ensure_schema(self) -> None:
        """Creates the database and the three tables when missing (idempotent)."""
        db = self._db
        expiry = "toDateTime(intDiv(expires_ts_ms, 1000), 'UTC')"
        statements = [
            create_database_sql(db),
            create_table_sql(db, USERS_TABLE, USER_COLUMNS, _TYPES, "username"),
            create_table_sql(db, API_KEYS_TABLE, API_KEY_COLUMNS, _TYPES, "key_id"),
            create_table_sql(
                db,
                REFRESH_TOKENS_TABLE,
                REFRESH_TOKEN_COLUMNS,
                _TYPES,
                "token_id",
                partition_by=f"toYYYYMM({expiry})",
                ttl=f"{expiry} + INTERVAL 1 DAY" if self._runner.features.ttl else "",
            ),
        ]
        for statement in statements:
            self._runner.command(_fixed(statement))

    # --- users ---

    def get_user(self, username: str) -> UserRecord | None:
        rows = self._one(USERS_TABLE, USER_COLUMNS, "username", username)
        return parse_user(rows[0]) if rows else None

    def list_users(self) -> list[UserRecord]:
        rows = self._runner.select(lambda _bind: latest_sql(self._db, USERS_TABLE, USER_COLUMNS, "username"))
        return [parse_user(r) for r in rows]

    def put_user(self, record: UserRecord) -> None:
        self._runner.insert_rows(USERS_TABLE, USER_COLUMNS, [user_row(record)])

    # --- API keys ---

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        rows = self._one(API_KEYS_TABLE, API_KEY_COLUMNS, "key_id", key_id)
        return parse_api_key(rows[0]) if rows else None

    def list_api_keys(self) -> list[ApiKeyRecord]:
        rows = self._runner.select(
            lambda _bind: latest_sql(self._db, API_KEYS_TABLE, API_KEY_COLUMNS, "key_id")
        )
        return sorted((parse_api_key(r) for r in rows), key=lambda k: (k.created_ts_ms, k.key_id))

    def put_api_key(self, record: ApiKeyRecord) -> None:
        self._runner.insert_rows(API_KEYS_TABLE, API_KEY_COLUMNS, [api_key_row(record)])

    # --- refresh tokens ---

    def get_refresh_token(self, token_id: str) -> RefreshTokenRecord | None:
        rows = self._one(REFRESH_TOKENS_TABLE, REFRESH_TOKEN_COLUMNS, "token_id", token_id)
        return parse_refresh_token(rows[0]) if rows else None

    def list_refresh_tokens(self, username: str) -> list[RefreshTokenRecord]:
        def build(bind: Binder) -> str:
            where = f" WHERE username = {bind(username)}"
            return latest_sql(self._db, REFRESH_TOKENS_TABLE, REFRESH_TOKEN_COLUMNS, "token_id", where)

        return [parse_refresh_token(r) for r in self._runner.select(build)]

    def put_refresh_token(self, record: RefreshTokenRecord) -> None:
        self._runner.insert_rows(REFRESH_TOKENS_TABLE, REFRESH_TOKEN_COLUMNS, [refresh_token_row(record)])

    def _one(self, table: str, columns: Sequence[str], key: str, value: str) -> list[tuple[Any, ...]]:
        def build(bind: Binder) -> str:
            return latest_sql(self._db, table, columns, key, f" WHERE {key} = {bind(value)}")

        return self._runner.select(build)
