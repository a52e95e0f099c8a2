"""Sign-in limits. The composition root fills them (ANFANG_AUTH__* settings) and hands over the JWT key."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AuthConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    access_token_ttl_s: int = Field(default=900, ge=10, description="lifetime of a JWT access token")
    refresh_token_ttl_s: int = Field(
        default=8 * 3600, ge=60, description="lifetime of a refresh token (one shift), renewed on each use"
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="failed sign-ins of one username within the window before a lockout"
    )
    login_max_failures_per_source: int = Field(
        default=20, ge=1, description="failed sign-ins from one address within the window before a lockout"
    )
    login_failure_window_s: float = Field(default=300.0, gt=0, description="window the failures count in")
    lockout_s: float = Field(default=300.0, gt=0, description="how long a locked-out username/address waits")
    lockout_max_entries: int = Field(
        default=10_000, ge=1, description="usernames/addresses whose failures are remembered (oldest dropped)"
    )
    user_cache_s: float = Field(
        default=5.0,
        ge=0,
        description="how long the authenticator caches a user/key record: disabling a user, or changing "
        "its role or scope, takes effect within this time on every API instance",
    )
    user_cache_max_entries: int = Field(default=10_000, ge=1, description="records the authenticator caches")
    password_min_length: int = Field(default=10, ge=1)
    password_max_length: int = Field(default=1024, ge=1, description="longer passwords are refused unhashed")
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    issuer: str = Field(default="anfang", min_length=1)
    argon2_time_cost: int = Field(default=3, ge=1, description="argon2id iterations")
    argon2_memory_kib: int = Field(default=65_536, ge=8, description="argon2id memory per hash (KiB)")
    argon2_parallelism: int = Field(default=4, ge=1, description="argon2id lanes")

    @model_validator(mode="after")
    def _check(self) -> AuthConfig:
        if self.password_min_length > self.password_max_length:
            raise ValueError(
                f"password_min_length ({self.password_min_length}) exceeds "
                f"password_max_length ({self.password_max_length})"
            )
        return self
