"""Wiring of sign-in: the auth store, authenticator and service; the admin socket's handlers; the demo
operator. `anfang/commands.py` calls these; `anfang/users_cli.py` uses the same handlers locally.

    parts = build_auth(settings, runner, audit)          # runner: the ChdbStore / ClickHouseStore
    create_app(..., authenticator=parts.authenticator, auth_service=parts.service, audit=audit)
    close_socket = start_admin_socket(socket_path(settings.data_dir), admin_handlers(parts))  # embedded
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from anfang import admin_socket
from anfang.admin_socket import AdminCommandError, Handler
from anfang.secrets import load_jwt_key
from anfang.settings import Settings
from api.auth.admin import Actor, UserAdmin
from api.auth.authenticator import TokenAuthenticator
from api.auth.errors import AuthServiceError
from api.auth.passwords import Passwords
from api.auth.schemas import KeyOut, UserOut
from api.auth.service import AuthService
from api.auth.tokens import AccessTokens
from events.audit import AuditSink
from events.auth import ApiKeyRecord, CameraScope, Role, UserRecord
from events.store.auth_sql import AuthSqlStore
from events.store.runner import SqlRunner

logger = logging.getLogger(__name__)

DEMO_OPERATOR = "operator"
_DEMO_PASSWORD_BYTES = 12  # 16 characters


@dataclass(frozen=True, slots=True)
class AuthParts:
    authenticator: TokenAuthenticator
    service: AuthService


def build_auth(settings: Settings, runner: SqlRunner, audit: AuditSink | None) -> AuthParts:
    """The authenticator and service over the auth tables in `runner`'s database (created when missing);
    the JWT key from the environment, a secrets file or (embedded) `<data_dir>/secrets/jwt.key`.
    Raises `anfang.secrets.SecretsError` when there is no key (distributed mode without one)."""
    config = settings.auth.api_config()
    key = load_jwt_key(settings.auth, mode=settings.mode, data_dir=settings.data_dir)
    store = AuthSqlStore(runner)
    store.ensure_schema()
    tokens = AccessTokens(config, key)
    authenticator = TokenAuthenticator(store, tokens, config)
    service = AuthService(
        store, config, passwords=Passwords(config), tokens=tokens, audit=audit, authenticator=authenticator
    )
    return AuthParts(authenticator=authenticator, service=service)


def build_admin(settings: Settings, runner: SqlRunner, audit: AuditSink | None) -> UserAdmin:
    """Users and keys only (no JWT key needed): what the CLI runs when it opens the store itself."""
    config = settings.auth.api_config()
    store = AuthSqlStore(runner)
    store.ensure_schema()
    return UserAdmin(store, config, passwords=Passwords(config), audit=audit)


def start_admin_socket(path: Path, handlers: Mapping[str, Handler]) -> Callable[[], None]:
    """Serves the handlers on `path` (see anfang.admin_socket); returns the closer."""
    return admin_socket.start_admin_socket(path, handlers)


def ensure_demo_operator(service: UserAdmin) -> tuple[str, str] | None:
    """When no user exists: creates "operator" (role operator, every camera) with a generated password
    and returns (username, password) to print once. None when there are users already."""
    if service.has_users():
        return None
    password = secrets.token_urlsafe(_DEMO_PASSWORD_BYTES)
    service.create_user(DEMO_OPERATOR, Role.OPERATOR, password, actor=Actor("system:demo", "", "demo"))
    logger.info("created the demo user %r (role operator)", DEMO_OPERATOR)
    return DEMO_OPERATOR, password


# --- admin commands (the socket's and the CLI's) ---------------------------------------------------


def admin_handlers(
    parts: AuthParts | UserAdmin, extra: Mapping[str, Handler] | None = None
) -> dict[str, Handler]:
    """command -> handler for `anfang users/keys ...` (args and results are JSON objects; `args["actor"]`
    names who asks). `extra` adds handlers, e.g. {"audit.verify": ...}."""
    service = parts.service if isinstance(parts, AuthParts) else parts

    def users_add(args: dict[str, Any]) -> dict[str, Any]:
        user = service.create_user(
            _text(args, "username"), _role(args), _text(args, "password"), _scope(args), actor=_actor(args)
        )
        return {"user": _user_json(user)}

    def users_list(_args: dict[str, Any]) -> dict[str, Any]:
        return {"users": [_user_json(u) for u in service.list_users()]}

    def users_update(**fields: Callable[[dict[str, Any]], Any]) -> Handler:
        def handle(args: dict[str, Any]) -> dict[str, Any]:
            changes = {name: value(args) for name, value in fields.items()}
            user = service.update_user(_text(args, "username"), actor=_actor(args), **changes)
            return {"user": _user_json(user)}

        return handle

    def keys_create(args: dict[str, Any]) -> dict[str, Any]:
        record, api_key = service.create_key(
            _text(args, "name"), _role(args), _scope(args), actor=_actor(args)
        )
        return {"key": _key_json(record), "api_key": api_key}

    def keys_list(_args: dict[str, Any]) -> dict[str, Any]:
        return {"keys": [_key_json(k) for k in service.list_keys()]}

    def keys_revoke(args: dict[str, Any]) -> dict[str, Any]:
        return {"key": _key_json(service.revoke_key(_text(args, "key_id"), actor=_actor(args)))}

    handlers: dict[str, Handler] = {
        "users.add": users_add,
        "users.list": users_list,
        "users.disable": users_update(disabled=lambda _a: True),
        "users.enable": users_update(disabled=lambda _a: False),
        "users.set_role": users_update(role=_role),
        "users.set_scope": users_update(scope=_scope),
        "users.set_password": users_update(password=lambda a: _text(a, "password")),
        "keys.create": keys_create,
        "keys.list": keys_list,
        "keys.revoke": keys_revoke,
    }
    wrapped = {name: _refusals_as_command_errors(handler) for name, handler in handlers.items()}
    return {**wrapped, **(extra or {})}


def _refusals_as_command_errors(handler: Handler) -> Handler:
    def handle(args: dict[str, Any]) -> dict[str, Any]:
        try:
            return handler(args)
        except AuthServiceError as exc:
            raise AdminCommandError(str(exc)) from None

    return handle


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise AdminCommandError(f"{name} is required (a string)")
    return value


def _role(args: dict[str, Any]) -> Role:
    value = _text(args, "role")
    try:
        return Role(value)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise AdminCommandError(f"role must be one of {roles}, got {value!r}") from None


def _scope(args: dict[str, Any]) -> CameraScope:
    sites, cameras = args.get("sites") or [], args.get("cameras") or []
    if not isinstance(sites, list) or not isinstance(cameras, list):
        raise AdminCommandError("sites and cameras must be lists")
    try:
        return CameraScope(sites=tuple(dict.fromkeys(sites)), cameras=tuple(dict.fromkeys(cameras)))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AdminCommandError(f"invalid scope ({where}): {first['msg']}") from None


def _actor(args: dict[str, Any]) -> Actor:
    name = args.get("actor")
    return Actor(name if isinstance(name, str) and name else admin_socket.cli_actor(), "", "cli")


def _user_json(user: UserRecord) -> dict[str, Any]:
    return UserOut.of(user).model_dump(mode="json")


def _key_json(key: ApiKeyRecord) -> dict[str, Any]:
    return KeyOut.of(key).model_dump(mode="json")
