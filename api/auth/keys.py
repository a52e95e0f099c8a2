"""Secrets handed out once: API keys (`ak_<key_id>_<secret>`) and refresh tokens (`rt_<token_id>_<secret>`).

The secret is 32 random bytes from `secrets`; the store keeps its SHA-256 only. A slow hash (argon2) is
for guessable passwords: a 256-bit random secret cannot be brute-forced, so one SHA-256 is enough and
keeps checking a key fast on every request. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

API_KEY_PREFIX = "ak"
REFRESH_TOKEN_PREFIX = "rt"
_ID_BYTES = 8  # 16 hex characters
_SECRET_BYTES = 32
_CREDENTIAL = re.compile(r"^(?P<prefix>[a-z]{2})_(?P<id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{20,128})$")


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """A freshly made credential: `text` goes to the client once, `sha256` to the store."""

    record_id: str
    text: str
    sha256: str


@dataclass(frozen=True, slots=True)
class PresentedSecret:
    """A credential a client sent, split into its id and secret (never logged)."""

    record_id: str
    secret: str

    def matches(self, stored_sha256: str) -> bool:
        return hmac.compare_digest(sha256_hex(self.secret), stored_sha256)


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(prefix: str) -> IssuedSecret:
    record_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return IssuedSecret(record_id, f"{prefix}_{record_id}_{secret}", sha256_hex(secret))


def parse(credential: str, prefix: str) -> PresentedSecret | None:
    """The id and secret of a credential with this prefix, or None when it is not shaped like one."""
    m = _CREDENTIAL.match(credential)
    if m is None or m.group("prefix") != prefix:
        return None
    return PresentedSecret(m.group("id"), m.group("secret"))


def looks_like_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_PREFIX + "_")
