"""`TokenAuthenticator`: a bearer credential (JWT access token or API key) -> the `Principal`.

The principal's role and camera scope come from the stored user or key, read through a short cache
(`user_cache_s`), not from the token: disabling a user, revoking a key or changing a role or scope
takes effect within that time on every API instance (at once on the instance that made the change,
which calls `forget`). The token only proves who the caller is.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from api.auth import keys
from api.auth.config import AuthConfig
from api.auth.tokens import AccessTokens
from api.principal import AuthenticationError, Principal
from events.auth import ApiKeyRecord, AuthStore, UserRecord

V = TypeVar("V")


class TtlCache(Generic[V]):
    """key -> value (None included: "no such record") for `ttl_s`, at most `max_entries` (oldest out)."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[str], V | None]) -> V | None:
        now_s = self._clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now_s:
                return hit[1]
        value = load(key)  # outside the lock: a slow store must not serialise every request
        if self._ttl_s > 0:
            with self._lock:
                self._entries.pop(key, None)
                self._entries[key] = (now_s + self._ttl_s, value)
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        return value

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class TokenAuthenticator:
    """`api.principal.Authenticator` over an `AuthStore` and the JWT key."""

    def __init__(
        self,
        store: AuthStore,
        tokens: AccessTokens,
        config: AuthConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._users: TtlCache[UserRecord] = TtlCache(
            config.user_cache_s, config.user_cache_max_entries, clock
        )
        self._keys: TtlCache[ApiKeyRecord] = TtlCache(
            config.user_cache_s, config.user_cache_max_entries, clock
        )
        self._store = store

    def authenticate(self, credential: str) -> Principal:
        if keys.looks_like_api_key(credential):
            return self._api_key(credential)
        claims = self._tokens.verify(credential)
        user = self._users.get(claims.username, self._store.get_user)
        if user is None:
            raise AuthenticationError("the access token's user no longer exists")
        if user.disabled:
            raise AuthenticationError("user disabled")
        return Principal(name=user.username, role=user.role, kind="user", scope=user.scope)

    def _api_key(self, credential: str) -> Principal:
        presented = keys.parse(credential, keys.API_KEY_PREFIX)
        if presented is None:
            raise AuthenticationError("malformed API key (expected ak_<key id>_<secret>)")
        record = self._keys.get(presented.record_id, self._store.get_api_key)
        if record is None or not presented.matches(record.secret_sha256):
            raise AuthenticationError("unknown API key")
        if record.revoked:
            raise AuthenticationError("API key revoked")
        return Principal(name=record.key_id, role=record.role, kind="api_key", scope=record.scope)

    def forget_user(self, username: str) -> None:
        """Drops a user's cached record (called by the service after it changed it)."""
        self._users.forget(username)

    def forget_key(self, key_id: str) -> None:
        self._keys.forget(key_id)
