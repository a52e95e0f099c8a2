"""Users and API keys (admin only). Every change is audited by the service, ok or refused."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api.auth.admin import Actor
from api.auth.deps import AuthServiceDep
from api.auth.schemas import (
    KeyCreatedOut,
    KeyCreateIn,
    KeyListOut,
    KeyOut,
    UserCreateIn,
    UserListOut,
    UserOut,
    UserPatchIn,
)
from api.deps import client_address, require
from api.principal import Permission, Principal
from api.schemas import ErrorOut
from events.auth import NAME_MAX_LENGTH, NAME_PATTERN

router = APIRouter(tags=["users"])

Admin = Annotated[Principal, require(Permission.USERS_MANAGE)]
Username = Annotated[str, Path(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)]
KeyId = Annotated[str, Path(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)]

_BAD = {"model": ErrorOut, "description": "the password is too short or too long, or a value is refused"}
_NO_USER = {"model": ErrorOut, "description": "no such user"}
_NO_KEY = {"model": ErrorOut, "description": "no such API key"}
_CONFLICT = {"model": ErrorOut, "description": "the user exists already, or the change would leave no admin"}


def _actor(user: Principal, request: Request) -> Actor:
    return Actor.of(user, client_address(request))


@router.get("/v1/users", response_model=UserListOut)
def list_users(user: Admin, service: AuthServiceDep) -> UserListOut:
    """Every user, disabled ones too, by username (never a password or its hash)."""
    return UserListOut(items=[UserOut.of(u) for u in service.list_users()])


@router.post("/v1/users", status_code=201, response_model=UserOut, responses={400: _BAD, 409: _CONFLICT})
def create_user(body: UserCreateIn, user: Admin, service: AuthServiceDep, request: Request) -> UserOut:
    created = service.create_user(
        body.username,
        body.role,
        body.password.get_secret_value(),
        body.scope.to_scope(),
        actor=_actor(user, request),
    )
    return UserOut.of(created)


@router.get("/v1/users/{username}", response_model=UserOut, responses={404: _NO_USER})
def get_user(username: Username, user: Admin, service: AuthServiceDep) -> UserOut:
    return UserOut.of(service.get_user(username))


@router.patch(
    "/v1/users/{username}",
    response_model=UserOut,
    responses={400: _BAD, 404: _NO_USER, 409: _CONFLICT},
)
def update_user(
    username: Username, body: UserPatchIn, user: Admin, service: AuthServiceDep, request: Request
) -> UserOut:
    """Changes the role, scope, disabled flag or password (only what the body gives)."""
    updated = service.update_user(
        username,
        actor=_actor(user, request),
        role=body.role,
        scope=None if body.scope is None else body.scope.to_scope(),
        disabled=body.disabled,
        password=None if body.password is None else body.password.get_secret_value(),
    )
    return UserOut.of(updated)


@router.get("/v1/keys", response_model=KeyListOut)
def list_keys(user: Admin, service: AuthServiceDep) -> KeyListOut:
    """Every API key, revoked ones too, oldest first (never the key itself)."""
    return KeyListOut(items=[KeyOut.of(k) for k in service.list_keys()])


@router.post("/v1/keys", status_code=201, response_model=KeyCreatedOut, responses={400: _BAD})
def create_key(body: KeyCreateIn, user: Admin, service: AuthServiceDep, request: Request) -> KeyCreatedOut:
    """A new API key, returned this once in `api_key` (`ak_<key_id>_<secret>`): store it now."""
    record, api_key = service.create_key(
        body.name, body.role, body.scope.to_scope(), actor=_actor(user, request)
    )
    return KeyCreatedOut(**KeyOut.of(record).model_dump(), api_key=api_key)


@router.delete("/v1/keys/{key_id}", status_code=204, responses={404: _NO_KEY})
def revoke_key(key_id: KeyId, user: Admin, service: AuthServiceDep, request: Request) -> Response:
    """Revokes the key: requests with it answer 401 from now on (within the cache time elsewhere)."""
    service.revoke_key(key_id, actor=_actor(user, request))
    return Response(status_code=204)
