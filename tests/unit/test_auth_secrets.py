"""The JWT key: environment, secrets file, generated in embedded mode (0600 in a 0700 folder), refused
in distributed mode without one."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from anfang.secrets import AuthSettings, SecretsError, jwt_key_path, load_jwt_key
from anfang.settings import Settings

KEY = "0123456789abcdef0123456789abcdef-key"


def test_env_wins_over_file_and_generation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANFANG_AUTH__JWT_SECRET", KEY)
    monkeypatch.setenv("ANFANG_AUTH__SECRETS_FILE", str(tmp_path / "missing"))
    settings = Settings(data_dir=tmp_path)
    assert load_jwt_key(settings.auth, mode="distributed", data_dir=tmp_path) == KEY.encode()
    assert KEY not in repr(settings) and KEY not in repr(settings.auth) and KEY not in str(settings.auth)
    assert not jwt_key_path(tmp_path).exists()


def test_a_secrets_file_is_read_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "jwt"
    path.write_text(f"  {KEY}\n")
    auth = AuthSettings(secrets_file=path)
    assert load_jwt_key(auth, mode="distributed", data_dir=tmp_path) == KEY.encode()


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (AuthSettings(), "no JWT key: set ANFANG_AUTH__JWT_SECRET or ANFANG_AUTH__SECRETS_FILE"),
        (AuthSettings(jwt_secret=SecretStr("short")), "too short"),
        (AuthSettings(secrets_file=Path("/nonexistent/jwt")), "cannot read the JWT key"),
    ],
)
def test_distributed_mode_without_a_usable_key_is_a_clear_error(
    auth: AuthSettings, message: str, tmp_path: Path
) -> None:
    with pytest.raises(SecretsError, match=message):
        load_jwt_key(auth, mode="distributed", data_dir=tmp_path)
    assert not (tmp_path / "secrets").exists()


def test_embedded_mode_generates_the_key_once_private(tmp_path: Path) -> None:
    first = load_jwt_key(AuthSettings(), mode="embedded", data_dir=tmp_path)
    path = jwt_key_path(tmp_path)
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_jwt_key(AuthSettings(), mode="embedded", data_dir=tmp_path) == first  # kept
    assert list(path.parent.iterdir()) == [path]  # no temporary file left
    other = tmp_path / "other"
    assert load_jwt_key(AuthSettings(), mode="embedded", data_dir=other) != first


def test_a_key_file_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    load_jwt_key(AuthSettings(), mode="embedded", data_dir=tmp_path)
    jwt_key_path(tmp_path).chmod(0o644)
    load_jwt_key(AuthSettings(), mode="embedded", data_dir=tmp_path)
    assert "readable by others" in caplog.text
    assert jwt_key_path(tmp_path).read_text().strip() not in caplog.text


def test_auth_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANFANG_AUTH__ACCESS_TOKEN_TTL_S", "600")
    monkeypatch.setenv("ANFANG_AUTH__LOGIN_MAX_FAILURES", "7")
    config = Settings().auth.api_config()
    assert (config.access_token_ttl_s, config.login_max_failures, config.user_cache_s) == (600, 7, 5.0)
    assert not hasattr(config, "jwt_secret")
