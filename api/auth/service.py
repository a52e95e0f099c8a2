"""`AuthService`: sign-in (login, refresh with rotation, logout) and the administration of users and
API keys. Every sign-in (success and failure, with the username tried) and every user/key change is
appended to the audit trail here, so the API and the CLI are audited alike. Passwords, hashes, tokens
and keys never reach a log record, an audit record or an exception message.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from api.auth import keys
from api.auth.admin import Actor, UserAdmin, revoked_token
from api.auth.authenticator import TokenAuthenticator
from api.auth.config import AuthConfig
from api.auth.errors import (
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    LockedOutError,
    SignInUnavailableError,
)
from api.auth.lockout import LoginLockout
from api.auth.passwords import Passwords
from api.auth.tokens import AccessTokens
from events.audit import AuditSink
from events.auth import NAME_MAX_LENGTH, NAME_PATTERN, AuthStore, RefreshTokenRecord, Role, UserRecord

logger = logging.getLogger(__name__)

T = TypeVar("T")
_USERNAME = re.compile(NAME_PATTERN)
WRONG_CREDENTIALS = "wrong username or password"


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str = ""
    refresh_token: str = ""
    expires_in_s: int = 0
    username: str = ""
    role: Role = Role.OPERATOR

    def __repr__(self) -> str:  # never the tokens
        return (
            f"TokenPair(username={self.username!r}, role={self.role.value}, expires_in_s={self.expires_in_s})"
        )


class AuthService(UserAdmin):
    def __init__(
        self,
        store: AuthStore,
        config: AuthConfig,
        *,
        passwords: Passwords,
        tokens: AccessTokens | None,
        audit: AuditSink | None,
        lockout: LoginLockout | None = None,
        authenticator: TokenAuthenticator | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`tokens` None: no JWT key in this process (the CLI): administration works, sign-in does not."""
        super().__init__(
            store, config, passwords=passwords, audit=audit, authenticator=authenticator, clock=clock
        )
        self._tokens = tokens
        self._lockout = lockout or LoginLockout(config)
        self._rotate_lock = threading.Lock()

    # --- sign-in ---

    def login(self, username: str, password: str, *, source: str) -> TokenPair:
        """Tokens for a right username and password; InvalidCredentialsError (one message whether the
        user is unknown, disabled or the password wrong), LockedOutError after too many failures."""
        tokens = self._require_tokens()
        tried = username[:NAME_MAX_LENGTH]  # as the audit trail and the lockout keep it
        try:
            self._lockout.check(tried, source)
        except LockedOutError:
            self._audit("auth.login", Actor(tried, "", source), "failed", f"user:{tried}", "locked out")
            raise
        user = self._user_for_login(username, password)
        matched = self.passwords.verify(None if user is None else user.password_hash, password)
        if user is None or not matched or user.disabled:
            self._lockout.failed(tried, source)
            cause = "user disabled" if user is not None and user.disabled else WRONG_CREDENTIALS
            self._audit("auth.login", Actor(tried, "", source), "failed", f"user:{tried}", cause)
            raise InvalidCredentialsError(WRONG_CREDENTIALS)
        self._lockout.succeeded(tried)
        if self.passwords.needs_rehash(user.password_hash):
            user = self.save_user(user, password_hash=self.passwords.hash(password))
        pair = self._issue(tokens, user)
        self._audit("auth.login", _actor(user, source), "ok", f"user:{user.username}")
        return pair

    def _user_for_login(self, username: str, password: str) -> UserRecord | None:
        """The user to check the password against: None for names that cannot exist (the dummy hash is
        checked then, so the answer takes as long) and for passwords over the length limit."""
        if len(username) > NAME_MAX_LENGTH or not _USERNAME.match(username):
            return None
        if len(password) > self.config.password_max_length:
            return None
        return self.store.get_user(username)

    def refresh(self, refresh_token: str, *, source: str) -> TokenPair:
        """New tokens for a valid refresh token, which is revoked (rotated): each works once. Presenting
        a revoked one again (a stolen, already rotated token) revokes every session of its user."""
        tokens = self._require_tokens()
        with self._rotate_lock:
            record = self._presented_refresh_token(refresh_token)
            actor = Actor(record.username, "", source)
            if record.revoked:
                self._revoke_sessions(record.username)
                self._audit(
                    "auth.refresh", actor, "failed", f"user:{record.username}", "revoked token reused"
                )
                raise InvalidRefreshTokenError("refresh token revoked or used already: sign in again")
            if record.expires_ts_ms <= self._now_ms():
                raise InvalidRefreshTokenError("refresh token expired: sign in again")
            user = self.store.get_user(record.username)
            self.store.put_refresh_token(revoked_token(record))
            if user is None or user.disabled:
                self._audit("auth.refresh", actor, "failed", f"user:{record.username}", "user disabled")
                raise InvalidRefreshTokenError("user disabled")
            pair = self._issue(tokens, user)
        self._audit("auth.refresh", _actor(user, source), "ok", f"user:{user.username}")
        return pair

    def logout(self, refresh_token: str, *, source: str) -> None:
        """Revokes the refresh token (a malformed, unknown or revoked one changes nothing)."""
        try:
            record = self._presented_refresh_token(refresh_token)
        except InvalidRefreshTokenError:
            return
        if not record.revoked:
            self.store.put_refresh_token(revoked_token(record))
            self._audit("auth.logout", Actor(record.username, "", source), "ok", f"user:{record.username}")

    def _presented_refresh_token(self, refresh_token: str) -> RefreshTokenRecord:
        presented = keys.parse(refresh_token, keys.REFRESH_TOKEN_PREFIX)
        if presented is None:
            raise InvalidRefreshTokenError("malformed refresh token")
        record = self.store.get_refresh_token(presented.record_id)
        if record is None or not presented.matches(record.secret_sha256):
            raise InvalidRefreshTokenError("unknown refresh token")
        return record

    def _issue(self, tokens: AccessTokens, user: UserRecord) -> TokenPair:
        refresh = keys.issue(keys.REFRESH_TOKEN_PREFIX)
        self.store.put_refresh_token(
            RefreshTokenRecord(
                token_id=refresh.record_id,
                username=user.username,
                secret_sha256=refresh.sha256,
                expires_ts_ms=self._now_ms() + self.config.refresh_token_ttl_s * 1000,
            )
        )
        return TokenPair(
            access_token=tokens.issue(user.username, user.role),
            refresh_token=refresh.text,
            expires_in_s=tokens.ttl_s,
            username=user.username,
            role=user.role,
        )

    def _require_tokens(self) -> AccessTokens:
        if self._tokens is None:
            raise SignInUnavailableError("sign-in is not available in this process (no JWT key)")
        return self._tokens


def _actor(user: UserRecord, source: str) -> Actor:
    return Actor(user.username, user.role.value, source)
