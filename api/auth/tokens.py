"""JWT access tokens (pyjwt): short-lived, signed with the deployment's key, checked on every request.

Claims: sub (username), role (informational: the authenticator reads the role and scope from the
stored user), kind ("user"), iat, exp, jti, iss and typ="access". Anything else (expired, wrongly
signed, another algorithm, `alg: none`, another issuer, a missing claim) is an AuthenticationError
whose message names the cause and never contains the token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from api.auth.config import AuthConfig
from api.principal import AuthenticationError
from events.auth import Role

ACCESS_TYPE = "access"
_REQUIRED_CLAIMS = ["sub", "role", "kind", "iat", "exp", "jti", "iss", "typ"]
MIN_KEY_BYTES = 32
_CLOCK_SKEW_S = 60  # an `iat` this far ahead of our clock is still accepted (servers' clocks differ)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    username: str
    role: Role
    expires_ts_s: int
    jti: str


class AccessTokens:
    def __init__(self, config: AuthConfig, key: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the JWT key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}")
        self._key = key
        self._config = config
        self._clock = clock

    @property
    def ttl_s(self) -> int:
        return self._config.access_token_ttl_s

    def issue(self, username: str, role: Role) -> str:
        now_s = int(self._clock())
        claims = {
            "sub": username,
            "role": role.value,
            "kind": "user",
            "iat": now_s,
            "exp": now_s + self._config.access_token_ttl_s,
            "jti": uuid.uuid4().hex,
            "iss": self._config.issuer,
            "typ": ACCESS_TYPE,
        }
        return jwt.encode(claims, self._key, algorithm=self._config.jwt_algorithm)

    def verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._config.jwt_algorithm],
                issuer=self._config.issuer,
                # exp and iat are checked below against our clock (injectable in tests)
                options={"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            raise AuthenticationError("access token signature invalid") from None
        except jwt.InvalidAlgorithmError:
            raise AuthenticationError("access token algorithm not accepted") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("access token from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationError(f"access token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidTokenError:
            raise AuthenticationError("malformed access token") from None
        if claims.get("typ") != ACCESS_TYPE or claims.get("kind") != "user":
            raise AuthenticationError("not an access token")
        try:
            parsed = AccessClaims(
                username=str(claims["sub"]),
                role=Role(str(claims["role"])),
                expires_ts_s=int(claims["exp"]),
                jti=str(claims["jti"]),
            )
            issued_ts_s = int(claims["iat"])
        except (ValueError, TypeError):
            raise AuthenticationError("malformed access token claims") from None
        now_s = self._clock()
        if parsed.expires_ts_s <= now_s:
            raise AuthenticationError("access token expired: sign in again or refresh it")
        if issued_ts_s > now_s + _CLOCK_SKEW_S:
            raise AuthenticationError("access token issued in the future")
        return parsed
