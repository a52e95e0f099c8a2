"""Who may do what: roles and camera scopes, shared by the stored user/key records and the API.

A scope limits a user or an API key to some sites and/or cameras (a "camera group" is the list of
cameras it names). Empty on both counts means every camera. The API filters every route, the live
feed and exports by it; a scoped principal cannot learn that an out-of-scope camera exists.

The stored records (users, API keys, refresh tokens) and the `AuthStore` port they are kept through
follow (events/store/auth_sql.py implements it on ClickHouse / chDB; api/auth uses it).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field

#: What an id (site, camera, username, key id) looks like.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
NAME_MAX_LENGTH = 128
_NAME = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)]


class Role(StrEnum):
    ADMIN = "admin"  # users, keys and everything else
    INTEGRATOR = "integrator"  # cameras, zones, rules, sensors and their status; no alert actions
    OPERATOR = "operator"  # alerts: view, acknowledge, assign, comment, escalate, resolve; snapshots
    AUDITOR = "auditor"  # history, exports, audit log; read only


class CameraScope(BaseModel):
    """Sites and cameras a principal may see; both empty = all cameras."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sites: tuple[_NAME, ...] = Field(default=(), description="site ids (a camera of one of them is in scope)")
    cameras: tuple[_NAME, ...] = Field(default=(), description="camera ids in scope, whatever their site")

    @property
    def unrestricted(self) -> bool:
        return not self.sites and not self.cameras

    def allows(self, camera_id: str, site_id: str | None) -> bool:
        """Whether a camera (of `site_id`, when known) is in scope."""
        if self.unrestricted:
            return True
        return camera_id in self.cameras or (site_id is not None and site_id in self.sites)

    def filter_ids(self, cameras: Iterable[tuple[str, str | None]]) -> list[str]:
        """The ids among (camera_id, site_id) pairs that are in scope, order kept."""
        return [camera_id for camera_id, site_id in cameras if self.allows(camera_id, site_id)]

    def describe(self) -> str:
        if self.unrestricted:
            return "all cameras"
        parts = [f"sites {','.join(self.sites)}"] if self.sites else []
        parts += [f"cameras {','.join(self.cameras)}"] if self.cameras else []
        return "; ".join(parts)


UNRESTRICTED = CameraScope()


# --- stored records -------------------------------------------------------------------------------
#
# Users, API keys and refresh tokens are versioned rows: a change appends the record with the next
# `version`, and the latest version wins when read back. Nothing here is a secret in clear text: a
# password is kept as its argon2 hash, an API key's and a refresh token's secret as its SHA-256.


class UserRecord(BaseModel):
    """A person who signs in with a password."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: _NAME
    role: Role
    scope: CameraScope = UNRESTRICTED
    password_hash: str = Field(repr=False, description="argon2 hash (PHC string); never served or logged")
    disabled: bool = False
    created_ts_ms: int = Field(ge=0)
    updated_ts_ms: int = Field(ge=0)
    version: int = Field(default=1, ge=1)


class ApiKeyRecord(BaseModel):
    """A key a system signs in with (`ak_<key_id>_<secret>`); only the SHA-256 of its secret is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: _NAME
    name: str = Field(min_length=1, max_length=128)
    role: Role
    scope: CameraScope = UNRESTRICTED
    secret_sha256: str = Field(repr=False, pattern=r"^[0-9a-f]{64}$")
    created_by: str = ""
    created_ts_ms: int = Field(ge=0)
    revoked: bool = False
    version: int = Field(default=1, ge=1)


class RefreshTokenRecord(BaseModel):
    """One refresh token handed out at sign-in (rotated on use, revoked at sign-out)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_id: _NAME
    username: _NAME
    secret_sha256: str = Field(repr=False, pattern=r"^[0-9a-f]{64}$")
    expires_ts_ms: int = Field(ge=0)
    revoked: bool = False
    version: int = Field(default=1, ge=1)


class AuthStore(Protocol):
    """Where users, API keys and refresh tokens are kept. `put_*` appends a new version of a record;
    reads return the latest version. Raises `events.ports.StoreError` when the store cannot answer."""

    def get_user(self, username: str) -> UserRecord | None: ...

    def list_users(self) -> list[UserRecord]:
        """Every user (disabled ones too), by username."""
        ...

    def put_user(self, record: UserRecord) -> None: ...

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every key (revoked ones too), by creation time."""
        ...

    def put_api_key(self, record: ApiKeyRecord) -> None: ...

    def get_refresh_token(self, token_id: str) -> RefreshTokenRecord | None: ...

    def list_refresh_tokens(self, username: str) -> list[RefreshTokenRecord]:
        """A user's refresh tokens (revoked and expired ones too)."""
        ...

    def put_refresh_token(self, record: RefreshTokenRecord) -> None: ...
