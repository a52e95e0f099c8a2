"""`UserAdmin`: users and API keys (create, change, disable, revoke), each change a new record version,
audited (ok or failed, never with a secret) and dropped from the authenticator's cache at once.

Writes are serialised per process (read the latest version, append the next). Two processes changing
the same user at the same instant could both write version n+1; changes are rare admin actions, and
the next change settles it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from api.auth import keys
from api.auth.authenticator import TokenAuthenticator
from api.auth.config import AuthConfig
from api.auth.errors import (
    AuthServiceError,
    InvalidInputError,
    KeyNotFoundError,
    LastAdminError,
    PasswordPolicyError,
    UserExistsError,
    UserNotFoundError,
)
from api.auth.passwords import Passwords
from api.principal import Principal
from events.audit import AuditOutcome, AuditRecord, AuditSink
from events.auth import (
    UNRESTRICTED,
    ApiKeyRecord,
    AuthStore,
    CameraScope,
    RefreshTokenRecord,
    Role,
    UserRecord,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
_AUDIT_TEXT_MAX = 200


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, for the audit trail: a principal of the API, or `cli:<os user>`."""

    name: str
    role: str = ""
    source: str = ""

    @classmethod
    def of(cls, principal: Principal, source: str) -> Actor:
        return cls(principal.actor, principal.role.value, source)


class UserAdmin:
    def __init__(
        self,
        store: AuthStore,
        config: AuthConfig,
        *,
        passwords: Passwords,
        audit: AuditSink | None,
        authenticator: TokenAuthenticator | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config
        self.passwords = passwords
        self._audit_sink = audit
        self._authenticator = authenticator
        self._clock = clock
        self._write_lock = threading.RLock()

    # --- users ---

    def has_users(self) -> bool:
        return bool(self.store.list_users())

    def list_users(self) -> list[UserRecord]:
        return self.store.list_users()

    def get_user(self, username: str) -> UserRecord:
        user = self.store.get_user(username)
        if user is None:
            raise UserNotFoundError(f"no user {username!r}")
        return user

    def create_user(
        self, username: str, role: Role, password: str, scope: CameraScope = UNRESTRICTED, *, actor: Actor
    ) -> UserRecord:
        def change() -> tuple[UserRecord, str]:
            self.check_password(password)
            with self._write_lock:
                if self.store.get_user(username) is not None:
                    raise UserExistsError(f"user {username!r} exists already")
                now_ms = self._now_ms()
                user = UserRecord(
                    username=username,
                    role=role,
                    scope=scope,
                    password_hash=self.passwords.hash(password),
                    created_ts_ms=now_ms,
                    updated_ts_ms=now_ms,
                )
                self.store.put_user(user)
            return user, f"role {role.value}; scope {scope.describe()}"

        return self.audited("user.create", f"user:{username}", actor, change)

    def update_user(
        self,
        username: str,
        *,
        actor: Actor,
        role: Role | None = None,
        scope: CameraScope | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> UserRecord:
        """Changes what is given; a new password or disabling also ends the user's sessions."""

        def change() -> tuple[UserRecord, str]:
            if password is not None:
                self.check_password(password)
            with self._write_lock:
                user = self.get_user(username)
                changes: dict[str, Any] = {}
                notes: list[str] = []
                if role is not None and role != user.role:
                    changes["role"] = role
                    notes.append(f"role {user.role.value} -> {role.value}")
                if scope is not None and scope != user.scope:
                    changes["scope"] = scope
                    notes.append(f"scope {user.scope.describe()} -> {scope.describe()}")
                if disabled is not None and disabled != user.disabled:
                    changes["disabled"] = disabled
                    notes.append("disabled" if disabled else "enabled")
                if password is not None:
                    changes["password_hash"] = self.passwords.hash(password)
                    notes.append("password changed")
                if not changes:
                    return user, "no change"
                self._check_admin_left(user, changes)
                updated = self.save_user(user, **changes)
                if password is not None or updated.disabled:
                    self._revoke_sessions(username)
            return updated, "; ".join(notes)

        return self.audited("user.update", f"user:{username}", actor, change)

    def _check_admin_left(self, user: UserRecord, changes: dict[str, Any]) -> None:
        stays_admin = changes.get("role", user.role) == Role.ADMIN and not changes.get(
            "disabled", user.disabled
        )
        if user.role != Role.ADMIN or user.disabled or stays_admin:
            return
        others = [u for u in self.store.list_users() if u.role == Role.ADMIN and not u.disabled]
        if not [u for u in others if u.username != user.username]:
            raise LastAdminError(f"{user.username!r} is the last enabled admin: add another admin first")

    def save_user(self, user: UserRecord, **changes: Any) -> UserRecord:
        """Appends the user's next version with `changes` (no audit: callers audit)."""
        with self._write_lock:
            updated = UserRecord.model_validate(
                {
                    **user.model_dump(),
                    **changes,
                    "version": user.version + 1,
                    "updated_ts_ms": self._now_ms(),
                }
            )
            self.store.put_user(updated)
        if self._authenticator is not None:
            self._authenticator.forget_user(user.username)
        return updated

    def check_password(self, password: str) -> None:
        if len(password) < self.config.password_min_length:
            raise PasswordPolicyError(
                f"the password must have at least {self.config.password_min_length} characters"
            )
        if len(password) > self.config.password_max_length:
            raise PasswordPolicyError(
                f"the password must have at most {self.config.password_max_length} characters"
            )
        if not password.strip():
            raise PasswordPolicyError("the password must not be blank")

    # --- API keys ---

    def list_keys(self) -> list[ApiKeyRecord]:
        return self.store.list_api_keys()

    def get_key(self, key_id: str) -> ApiKeyRecord:
        record = self.store.get_api_key(key_id)
        if record is None:
            raise KeyNotFoundError(f"no API key {key_id!r}")
        return record

    def create_key(
        self, name: str, role: Role, scope: CameraScope = UNRESTRICTED, *, actor: Actor
    ) -> tuple[ApiKeyRecord, str]:
        """The stored key and the key itself (`ak_<key_id>_<secret>`), to show once: it is not kept."""
        issued = keys.issue(keys.API_KEY_PREFIX)

        def change() -> tuple[tuple[ApiKeyRecord, str], str]:
            record = ApiKeyRecord(
                key_id=issued.record_id,
                name=name,
                role=role,
                scope=scope,
                secret_sha256=issued.sha256,
                created_by=actor.name,
                created_ts_ms=self._now_ms(),
            )
            self.store.put_api_key(record)
            return (record, issued.text), f"name {name!r}; role {role.value}; scope {scope.describe()}"

        return self.audited("key.create", f"key:{issued.record_id}", actor, change)

    def revoke_key(self, key_id: str, *, actor: Actor) -> ApiKeyRecord:
        def change() -> tuple[ApiKeyRecord, str]:
            with self._write_lock:
                record = self.get_key(key_id)
                if record.revoked:
                    return record, "revoked already"
                revoked = record.model_copy(update={"revoked": True, "version": record.version + 1})
                self.store.put_api_key(revoked)
            if self._authenticator is not None:
                self._authenticator.forget_key(key_id)
            return revoked, f"name {record.name!r}"

        return self.audited("key.revoke", f"key:{key_id}", actor, change)

    # --- shared ---

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _revoke_sessions(self, username: str) -> None:
        for record in self.store.list_refresh_tokens(username):
            if not record.revoked:
                self.store.put_refresh_token(revoked_token(record))

    def _audit(self, action: str, actor: Actor, outcome: AuditOutcome, target: str, detail: str = "") -> None:
        if outcome != "ok":
            logger.info("%s %s by %s from %s: %s", action, outcome, actor.name, actor.source or "-", detail)
        if self._audit_sink is None:
            return
        self._audit_sink.append(
            AuditRecord(
                ts_ms=self._now_ms(),
                actor=actor.name[:_AUDIT_TEXT_MAX],  # a username tried can be anything a client sent
                role=actor.role,
                action=action,
                target=target[:_AUDIT_TEXT_MAX],
                source=actor.source,
                outcome=outcome,
                detail=detail,
            )
        )

    def audited(self, action: str, target: str, actor: Actor, change: Callable[[], tuple[T, str]]) -> T:
        """Runs a change; audits it as ok (with the detail it returns) or failed (with the refusal)."""
        try:
            result, detail = change()
        except AuthServiceError as exc:
            self._audit(action, actor, "failed", target, str(exc))
            raise
        except ValidationError as exc:
            refusal = _invalid(exc)
            self._audit(action, actor, "failed", target, str(refusal))
            raise refusal from None
        self._audit(action, actor, "ok", target, detail)
        return result


def revoked_token(record: RefreshTokenRecord) -> RefreshTokenRecord:
    """The token's next version, revoked."""
    return record.model_copy(update={"revoked": True, "version": record.version + 1})


def _invalid(exc: ValidationError) -> InvalidInputError:
    """A one-line refusal naming the field, without the value (it could be a secret)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return InvalidInputError(f"{where}: {first['msg']}" if where else str(first["msg"]))
