"""Access tokens, API-key and refresh-token secrets, password hashes, the login lockout, the TTL cache."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from api.auth import keys
from api.auth.authenticator import TtlCache
from api.auth.config import AuthConfig
from api.auth.errors import LockedOutError
from api.auth.lockout import LoginLockout
from api.auth.passwords import Passwords
from api.auth.tokens import AccessTokens
from api.principal import AuthenticationError
from events.auth import Role
from tests.unit.auth_fakes import FAST, JWT_KEY, Clock

CONFIG = AuthConfig(**FAST)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "ann",
        "role": "admin",
        "kind": "user",
        "iat": now,
        "exp": now + 600,
        "jti": "j1",
        "iss": "anfang",
        "typ": "access",
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def test_a_token_round_trips_and_carries_the_claims() -> None:
    clock = Clock(now_s=time.time())
    tokens = AccessTokens(CONFIG, JWT_KEY, clock=clock.now)
    token = tokens.issue("ann", Role.AUDITOR)
    got = tokens.verify(token)
    assert (got.username, got.role) == ("ann", Role.AUDITOR)
    assert got.expires_ts_s == int(clock.now_s) + CONFIG.access_token_ttl_s
    payload = jwt.decode(token, JWT_KEY, algorithms=["HS256"], issuer="anfang")
    assert set(payload) == {"sub", "role", "kind", "iat", "exp", "jti", "iss", "typ"}
    assert payload["typ"] == "access" and payload["kind"] == "user"
    assert tokens.issue("ann", Role.AUDITOR) != token  # jti differs


def _hs(payload: dict[str, object], key: bytes = JWT_KEY, alg: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=alg)


@pytest.mark.parametrize(
    ("name", "token", "cause"),
    [
        ("expired", _hs(claims(iat=int(time.time()) - 2000, exp=int(time.time()) - 1000)), "expired"),
        ("other key", _hs(claims(), key=b"x" * 64), "signature invalid"),
        ("alg none", _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims()) + ".", "algorithm"),
        ("HS512 when HS256 is set", _hs(claims(), alg="HS512"), "algorithm"),
        ("other issuer", _hs(claims(iss="evil")), "issuer"),
        ("no exp", _hs(claims(exp=None)), "'exp'"),
        ("refresh type", _hs(claims(typ="refresh")), "not an access token"),
        ("unknown role", _hs(claims(role="root")), "malformed"),
        (
            "issued in the future",
            _hs(claims(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)),
            "future",
        ),
        ("garbage", "not.a.jwt", "malformed"),
        ("empty", "", "malformed"),
    ],
)
def test_bad_tokens_are_refused_with_their_cause_never_the_token(name: str, token: str, cause: str) -> None:
    tokens = AccessTokens(CONFIG, JWT_KEY)
    with pytest.raises(AuthenticationError, match=cause) as info:
        tokens.verify(token)
    if token:
        assert token not in str(info.value)


def test_a_token_expires_on_the_clock() -> None:
    clock = Clock(now_s=time.time())
    tokens = AccessTokens(CONFIG, JWT_KEY, clock=clock.now)
    token = tokens.issue("ann", Role.OPERATOR)
    clock.advance(CONFIG.access_token_ttl_s - 1)
    assert tokens.verify(token).username == "ann"
    clock.advance(1)
    with pytest.raises(AuthenticationError, match="expired"):
        tokens.verify(token)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AccessTokens(CONFIG, b"short")


def test_secrets_are_random_hashed_and_parsed_strictly() -> None:
    a, b = keys.issue("ak"), keys.issue("ak")
    assert a.record_id != b.record_id and a.text != b.text
    assert a.text.startswith(f"ak_{a.record_id}_") and len(a.text) > 50
    presented = keys.parse(a.text, "ak")
    assert presented is not None and presented.record_id == a.record_id
    assert presented.matches(a.sha256) and not presented.matches(b.sha256)
    assert a.sha256 == keys.sha256_hex(presented.secret) and a.text.split("_", 2)[2] not in a.sha256
    assert keys.parse(a.text, "rt") is None  # a key is not a refresh token
    for bad in (
        "ak_",
        "ak_xyz_secret",
        f"ak_{a.record_id}_short",
        a.text + " ",
        "ak_" + "0" * 16 + "_" + "é" * 30,
    ):
        assert keys.parse(bad, "ak") is None


def test_passwords_hash_verify_and_need_rehash_when_parameters_change() -> None:
    passwords = Passwords(AuthConfig(**FAST))
    hashed = passwords.hash("tr0ub4dor&3xyz")
    assert hashed.startswith("$argon2id$") and "tr0ub4dor" not in hashed
    assert passwords.verify(hashed, "tr0ub4dor&3xyz")
    assert not passwords.verify(hashed, "tr0ub4dor&3xyZ")
    assert not passwords.verify(None, "tr0ub4dor&3xyz")  # unknown user: dummy hash, False
    assert not passwords.verify("not a hash", "x")
    assert not passwords.needs_rehash(hashed)
    stronger = Passwords(AuthConfig(**{**FAST, "argon2_time_cost": 2}))
    assert stronger.needs_rehash(hashed) and stronger.verify(hashed, "tr0ub4dor&3xyz")


def test_lockout_per_username_then_released_after_lockout_s() -> None:
    clock = Clock()
    lockout = LoginLockout(AuthConfig(login_max_failures=3, lockout_s=60), clock=clock.mono)
    for _ in range(3):
        lockout.check("ann", "10.0.0.1")
        lockout.failed("ann", "10.0.0.1")
    with pytest.raises(LockedOutError) as info:
        lockout.check("ann", "10.0.0.2")  # another address: still locked (per username)
    assert info.value.retry_after_s == 60
    lockout.check("bob", "10.0.0.1")  # others are not
    clock.advance(59.5)
    with pytest.raises(LockedOutError) as info:
        lockout.check("ann", "10.0.0.1")
    assert info.value.retry_after_s == 1
    clock.advance(0.5)
    lockout.check("ann", "10.0.0.1")


def test_failures_outside_the_window_do_not_count_and_success_resets() -> None:
    clock = Clock()
    lockout = LoginLockout(AuthConfig(login_max_failures=3, login_failure_window_s=10), clock=clock.mono)
    lockout.failed("ann", "a")
    lockout.failed("ann", "a")
    clock.advance(10)
    lockout.failed("ann", "a")  # the first two fell out of the window
    lockout.check("ann", "a")
    lockout.failed("ann", "a")
    lockout.succeeded("ann")
    lockout.failed("ann", "a")
    lockout.check("ann", "a")


def test_lockout_per_source_address_across_usernames() -> None:
    clock = Clock()
    config = AuthConfig(login_max_failures=100, login_max_failures_per_source=4)
    lockout = LoginLockout(config, clock=clock.mono)
    for i in range(4):
        lockout.failed(f"user{i}", "10.9.9.9")
    with pytest.raises(LockedOutError):
        lockout.check("someone-else", "10.9.9.9")
    lockout.check("someone-else", "10.1.1.1")


def test_lockout_memory_is_bounded() -> None:
    lockout = LoginLockout(AuthConfig(lockout_max_entries=50), clock=Clock().mono)
    for i in range(1000):
        lockout.failed(f"guess{i}", f"10.0.{i // 256}.{i % 256}")
    assert lockout.remembered() == 100


def test_ttl_cache_expires_forgets_and_is_bounded() -> None:
    clock = Clock()
    loads: list[str] = []

    def load(key: str) -> str | None:
        loads.append(key)
        return None if key == "missing" else key.upper()

    cache: TtlCache[str] = TtlCache(5.0, 2, clock.mono)
    assert cache.get("a", load) == "A" and cache.get("a", load) == "A"
    assert cache.get("missing", load) is None and cache.get("missing", load) is None  # misses cached too
    assert loads == ["a", "missing"]
    clock.advance(5)
    cache.get("a", load)
    cache.forget("a")
    cache.get("a", load)
    assert loads == ["a", "missing", "a", "a"]
    cache.get("b", load)
    cache.get("c", load)  # evicts the oldest ("missing" then "a")
    cache.get("a", load)
    assert loads[-1] == "a"
