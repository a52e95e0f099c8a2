"""Test doubles for sign-in: an in-memory `AuthStore`, a settable clock, and a service built with cheap
argon2 parameters (the defaults cost ~64 MiB and tens of ms per hash)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.auth.admin import Actor
from api.auth.authenticator import TokenAuthenticator
from api.auth.config import AuthConfig
from api.auth.lockout import LoginLockout
from api.auth.passwords import Passwords
from api.auth.service import AuthService
from api.auth.tokens import AccessTokens
from events.auth import ApiKeyRecord, RefreshTokenRecord, UserRecord
from tests.unit.api_fakes import ListAuditSink

JWT_KEY = b"k" * 64
FAST = {"argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1}
CLI = Actor("cli:test", "", "cli")
GOOD_PASSWORD = "correct horse battery staple"


class MemoryAuthStore:
    """`events.auth.AuthStore` keeping every version (like the SQL tables) in lists."""

    def __init__(self) -> None:
        self.users: list[UserRecord] = []
        self.keys: list[ApiKeyRecord] = []
        self.tokens: list[RefreshTokenRecord] = []
        self.reads = 0

    @staticmethod
    def _latest(rows: list[Any], key: str) -> dict[str, Any]:
        latest: dict[str, Any] = {}
        for row in rows:
            rid = getattr(row, key)
            if rid not in latest or row.version >= latest[rid].version:
                latest[rid] = row
        return latest

    def get_user(self, username: str) -> UserRecord | None:
        self.reads += 1
        found: UserRecord | None = self._latest(self.users, "username").get(username)
        return found

    def list_users(self) -> list[UserRecord]:
        return [u for _, u in sorted(self._latest(self.users, "username").items())]

    def put_user(self, record: UserRecord) -> None:
        self.users.append(record)

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        self.reads += 1
        found: ApiKeyRecord | None = self._latest(self.keys, "key_id").get(key_id)
        return found

    def list_api_keys(self) -> list[ApiKeyRecord]:
        return sorted(self._latest(self.keys, "key_id").values(), key=lambda k: (k.created_ts_ms, k.key_id))

    def put_api_key(self, record: ApiKeyRecord) -> None:
        self.keys.append(record)

    def get_refresh_token(self, token_id: str) -> RefreshTokenRecord | None:
        found: RefreshTokenRecord | None = self._latest(self.tokens, "token_id").get(token_id)
        return found

    def list_refresh_tokens(self, username: str) -> list[RefreshTokenRecord]:
        return [t for t in self._latest(self.tokens, "token_id").values() if t.username == username]

    def put_refresh_token(self, record: RefreshTokenRecord) -> None:
        self.tokens.append(record)


@dataclass
class Clock:
    """Wall (`now`) and monotonic (`mono`) time the test moves by hand."""

    now_s: float = 1_795_000_000.0
    mono_s: float = 1000.0

    def now(self) -> float:
        return self.now_s

    def mono(self) -> float:
        return self.mono_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds
        self.mono_s += seconds


@dataclass
class AuthRig:
    """A service, authenticator and store wired like anfang.auth_wiring.build_auth, on a test clock."""

    config: AuthConfig
    store: MemoryAuthStore
    audit: ListAuditSink
    clock: Clock
    tokens: AccessTokens
    authenticator: TokenAuthenticator
    service: AuthService
    passwords: dict[str, str] = field(default_factory=dict)

    def add_user(self, username: str, role: str, password: str = GOOD_PASSWORD, **scope: Any) -> UserRecord:
        from events.auth import CameraScope, Role

        self.passwords[username] = password
        return self.service.create_user(username, Role(role), password, CameraScope(**scope), actor=CLI)


def make_rig(**overrides: Any) -> AuthRig:
    config = AuthConfig(**{**FAST, **overrides})
    store, audit, clock = MemoryAuthStore(), ListAuditSink(), Clock()
    tokens = AccessTokens(config, JWT_KEY, clock=clock.now)
    authenticator = TokenAuthenticator(store, tokens, config, clock=clock.mono)
    service = AuthService(
        store,
        config,
        passwords=Passwords(config),
        tokens=tokens,
        audit=audit,
        lockout=LoginLockout(config, clock=clock.mono),
        authenticator=authenticator,
        clock=clock.now,
    )
    return AuthRig(config, store, audit, clock, tokens, authenticator, service)
