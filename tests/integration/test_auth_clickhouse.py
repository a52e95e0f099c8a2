"""Users, API keys and refresh tokens on the real ClickHouse server deploy/local/start runs (Debian's
18.16): the same AuthStore contract as chDB (tests/unit/test_auth_store.py), the DDL for that version,
and the whole sign-in service over it, in a database of the test's own."""

from __future__ import annotations

import pytest

from api.auth.authenticator import TokenAuthenticator
from api.auth.errors import InvalidRefreshTokenError
from api.auth.passwords import Passwords
from api.auth.service import AuthService
from api.auth.tokens import AccessTokens
from events.auth import CameraScope, Role
from events.store.auth_sql import REFRESH_TOKENS_TABLE, USERS_TABLE, AuthSqlStore
from events.store.clickhouse_store import ClickHouseStore
from tests.unit.api_fakes import ListAuditSink
from tests.unit.auth_fakes import CLI, FAST, GOOD_PASSWORD, JWT_KEY
from tests.unit.test_auth_store import auth_store_contract

pytestmark = pytest.mark.integration


def test_auth_store_contract(store: ClickHouseStore) -> None:
    auth = AuthSqlStore(store)
    auth.ensure_schema()
    auth.ensure_schema()  # idempotent
    auth_store_contract(auth)


def test_ddl_fits_the_server(store: ClickHouseStore) -> None:
    AuthSqlStore(store).ensure_schema()
    users = str(store._execute(f"SHOW CREATE TABLE {store._db}.{USERS_TABLE}")[0][0])
    tokens = str(store._execute(f"SHOW CREATE TABLE {store._db}.{REFRESH_TOKENS_TABLE}")[0][0])
    assert "ReplacingMergeTree(version)" in users and "LowCardinality" not in users
    assert ("TTL" in tokens) is store.features.ttl


def test_sign_in_refresh_and_admin_over_the_server(store: ClickHouseStore) -> None:
    from api.auth.config import AuthConfig

    auth = AuthSqlStore(store)
    auth.ensure_schema()
    config = AuthConfig(**FAST)
    tokens = AccessTokens(config, JWT_KEY)
    authenticator = TokenAuthenticator(auth, tokens, config)
    audit = ListAuditSink()
    service = AuthService(
        auth, config, passwords=Passwords(config), tokens=tokens, audit=audit, authenticator=authenticator
    )
    service.create_user("o.brien-1", Role.OPERATOR, GOOD_PASSWORD, CameraScope(sites=("north",)), actor=CLI)
    pair = service.login("o.brien-1", GOOD_PASSWORD, source="10.0.0.1")
    principal = authenticator.authenticate(pair.access_token)
    assert (principal.name, principal.role, principal.scope) == (
        "o.brien-1",
        Role.OPERATOR,
        CameraScope(sites=("north",)),
    )
    rotated = service.refresh(pair.refresh_token, source="10.0.0.1")
    with pytest.raises(InvalidRefreshTokenError):
        service.refresh(pair.refresh_token, source="10.0.0.1")
    _record, key = service.create_key("vms '; DROP TABLE users; --", Role.INTEGRATOR, actor=CLI)
    assert authenticator.authenticate(key).role == Role.INTEGRATOR
    service.update_user("o.brien-1", disabled=True, actor=CLI)
    with pytest.raises(InvalidRefreshTokenError):
        service.refresh(rotated.refresh_token, source="10.0.0.1")
    assert [u.disabled for u in service.list_users()] == [True]
