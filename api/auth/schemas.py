"""Request and response bodies of /v1/auth, /v1/users and /v1/keys (kept apart from the stored records).

No response carries a password, a hash or a stored secret: an API key is returned once, when created;
tokens only by the sign-in routes. Passwords arrive as `SecretStr` (masked in reprs and logs); their
length is checked by the service (400), not here, so a validation error never echoes one back.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from api.principal import ROLE_PERMISSIONS, Principal
from events.auth import NAME_MAX_LENGTH, NAME_PATTERN, ApiKeyRecord, CameraScope, Role, UserRecord

Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)]
SCOPE_ITEMS_MAX = 10_000  # ids in one scope list (bounds the stored record)


class ScopeModel(BaseModel):
    """Sites and cameras a user or key is limited to; both empty (the default) = every camera."""

    model_config = ConfigDict(extra="forbid")

    sites: list[Name] = Field(default_factory=list, max_length=SCOPE_ITEMS_MAX)
    cameras: list[Name] = Field(default_factory=list, max_length=SCOPE_ITEMS_MAX)

    def to_scope(self) -> CameraScope:
        return CameraScope(sites=tuple(dict.fromkeys(self.sites)), cameras=tuple(dict.fromkeys(self.cameras)))

    @classmethod
    def of(cls, scope: CameraScope) -> ScopeModel:
        return cls(sites=list(scope.sites), cameras=list(scope.cameras))


class TokenOut(BaseModel):
    access_token: str = Field(description="JWT: send as `Authorization: Bearer <access_token>`")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str = Field(description="for POST /v1/auth/refresh (works once) and /v1/auth/logout")
    username: str
    role: Role


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: SecretStr = Field(description="the refresh token of the last /token or /refresh")


class MeOut(BaseModel):
    username: str = Field(description="the username, or the API key's id")
    role: Role
    kind: Literal["user", "api_key"]
    scope: ScopeModel
    permissions: list[str]

    @classmethod
    def of(cls, principal: Principal) -> MeOut:
        return cls(
            username=principal.name,
            role=principal.role,
            kind=principal.kind,
            scope=ScopeModel.of(principal.scope),
            permissions=sorted(p.value for p in ROLE_PERMISSIONS[principal.role]),
        )


class UserCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Name
    role: Role
    password: SecretStr = Field(description="at least the configured minimum length (default 10)")
    scope: ScopeModel = Field(default_factory=ScopeModel)


class UserPatchIn(BaseModel):
    """Only the fields given change. Disabling a user or setting a password ends its sessions."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    scope: ScopeModel | None = None
    disabled: bool | None = None
    password: SecretStr | None = None


class UserOut(BaseModel):
    username: str
    role: Role
    scope: ScopeModel
    disabled: bool
    created_ts_ms: int
    updated_ts_ms: int
    version: int

    @classmethod
    def of(cls, user: UserRecord) -> UserOut:
        return cls(
            username=user.username,
            role=user.role,
            scope=ScopeModel.of(user.scope),
            disabled=user.disabled,
            created_ts_ms=user.created_ts_ms,
            updated_ts_ms=user.updated_ts_ms,
            version=user.version,
        )


class UserListOut(BaseModel):
    items: list[UserOut]


class KeyCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, description="what the key is for, e.g. the VMS's name")
    role: Role
    scope: ScopeModel = Field(default_factory=ScopeModel)


class KeyOut(BaseModel):
    key_id: str
    name: str
    role: Role
    scope: ScopeModel
    created_by: str
    created_ts_ms: int
    revoked: bool

    @classmethod
    def of(cls, key: ApiKeyRecord) -> KeyOut:
        return cls(
            key_id=key.key_id,
            name=key.name,
            role=key.role,
            scope=ScopeModel.of(key.scope),
            created_by=key.created_by,
            created_ts_ms=key.created_ts_ms,
            revoked=key.revoked,
        )


class KeyCreatedOut(KeyOut):
    api_key: str = Field(description="the key itself, shown this once: it is stored hashed only")


class KeyListOut(BaseModel):
    items: list[KeyOut]
