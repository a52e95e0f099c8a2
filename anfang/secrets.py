"""The JWT signing key: from the environment, from a secrets file, or (embedded mode only) generated
on first start under the data folder.

Order: `ANFANG_AUTH__JWT_SECRET` (the key itself), then `ANFANG_AUTH__SECRETS_FILE` (a file holding
the key, e.g. a Kubernetes or Docker secret), then, in embedded mode, `<data_dir>/secrets/jwt.key`
(created with mode 0600 in a 0700 folder when missing). Distributed mode has no generated key: every
API instance must verify the others' tokens, so they must share one key given to all of them.
Keys are at least 32 characters; the key is never logged.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from pydantic import Field, SecretStr

from api.auth.config import AuthConfig

logger = logging.getLogger(__name__)

MIN_KEY_CHARS = 32
SECRETS_DIR_NAME = "secrets"
JWT_KEY_FILE_NAME = "jwt.key"


class SecretsError(RuntimeError):
    """The JWT key is missing, too short or unreadable (a one-line error for the CLI)."""


class AuthSettings(AuthConfig):
    """`AuthConfig` plus where the JWT key comes from (env ANFANG_AUTH__*)."""

    jwt_secret: SecretStr | None = Field(
        default=None, repr=False, description="the JWT signing key itself (at least 32 characters)"
    )
    secrets_file: Path | None = Field(default=None, description="a file holding the JWT signing key")

    def api_config(self) -> AuthConfig:
        """The API's part (without the key's sources)."""
        return AuthConfig.model_validate(self.model_dump(exclude={"jwt_secret", "secrets_file"}))


def jwt_key_path(data_dir: Path) -> Path:
    return data_dir / SECRETS_DIR_NAME / JWT_KEY_FILE_NAME


def load_jwt_key(auth: AuthSettings, *, mode: str, data_dir: Path) -> bytes:
    """The JWT signing key, or SecretsError naming what to set."""
    if auth.jwt_secret is not None:
        return _checked(auth.jwt_secret.get_secret_value(), "ANFANG_AUTH__JWT_SECRET")
    if auth.secrets_file is not None:
        return _checked(_read(auth.secrets_file), f"secrets file {auth.secrets_file}")
    if mode != "embedded":
        raise SecretsError(
            "no JWT key: set ANFANG_AUTH__JWT_SECRET or ANFANG_AUTH__SECRETS_FILE (the same key on every "
            "API instance, at least 32 characters, e.g. from `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`)"
        )
    return _checked(_generated(jwt_key_path(data_dir)), f"key file {jwt_key_path(data_dir)}")


def _checked(key: str, where: str) -> bytes:
    key = key.strip()
    if len(key) < MIN_KEY_CHARS:
        raise SecretsError(f"the JWT key from {where} is too short: at least {MIN_KEY_CHARS} characters")
    return key.encode()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsError(f"cannot read the JWT key from {path}: {exc}") from None


def _generated(path: Path) -> str:
    """The key in `path`, created (0600, folder 0700) with a fresh random key when missing. Written to a
    temporary file first and linked into place, so a concurrent reader never sees half a key."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        if path.exists():
            _warn_if_open(path)
            return _read(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs is used
            logger.info(
                "generated the JWT signing key in %s (keep it secret; delete it to sign everyone out)", path
            )
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    except OSError as exc:
        raise SecretsError(f"cannot create the JWT key file {path}: {exc}") from None
    return _read(path)


def _warn_if_open(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("the JWT key file %s is readable by others (mode %o): chmod 600 it", path, mode)
