"""`anfang users/keys ...`: on the store itself before the first start, and through the admin socket
while a running process holds the chDB folder (in this process, and for real from a subprocess)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from anfang import users_cli
from anfang.admin_socket import socket_path
from anfang.audit_commands import audit_verify_handler, open_audit_log
from anfang.auth_wiring import AuthParts, admin_handlers, build_auth, ensure_demo_operator, start_admin_socket
from anfang.cli import main
from anfang.settings import Settings
from api.auth.errors import InvalidCredentialsError
from api.principal import AuthenticationError
from events.auth import Role
from events.ports import StoreError
from events.store.auth_sql import AuthSqlStore
from events.store.chdb_store import ChdbStore

REPO = Path(__file__).resolve().parents[2]
FAST_ENV = {"ANFANG_AUTH__ARGON2_TIME_COST": "1", "ANFANG_AUTH__ARGON2_MEMORY_KIB": "64"}
PASSWORD = "a long admin password"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)


@dataclass
class Run:
    code: int
    out: str
    err: str


def anfang(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    *args: str,
    stdin: str = "",
) -> Run:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = main([*args, "--data-dir", str(data_dir)])
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def audit_rows(store: ChdbStore) -> list[tuple[Any, ...]]:
    return store.select(
        lambda _b: "SELECT action, target, actor, outcome, source FROM anfang.audit_log ORDER BY seq"
    )


def test_users_and_keys_on_the_store_before_the_first_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"

    def cli(*args: str, stdin: str = "") -> Run:
        return anfang(capsys, monkeypatch, data, *args, stdin=stdin)

    added = cli(
        "users", "add", "--username", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert added.code == 0 and "user root: role admin, enabled, all cameras (version 1)" in added.out
    assert PASSWORD not in added.out + added.err
    cli("users", "add", "--username", "ann", "--role", "operator", "--password-stdin", "--camera", "cam-a",
        "--site", "north", "--camera", "cam-b", stdin=PASSWORD)  # fmt: skip
    listing = cli("users", "list")
    assert listing.out.splitlines()[0].split() == ["USERNAME", "ROLE", "STATUS", "SCOPE", "UPDATED"]
    assert [line.split()[:3] for line in listing.out.splitlines()[1:]] == [
        ["ann", "operator", "enabled"],
        ["root", "admin", "enabled"],
    ]
    assert "sites north; cameras cam-a,cam-b" in listing.out
    assert cli("users", "set-role", "ann", "auditor").code == 0
    assert cli("users", "set-scope", "ann", "--site", "south").code == 0
    assert cli("users", "disable", "ann").code == 0
    users = json.loads(cli("users", "list", "--json").out)["users"]
    ann = next(u for u in users if u["username"] == "ann")
    assert (ann["role"], ann["disabled"], ann["scope"], ann["version"]) == (
        "auditor", True, {"sites": ["south"], "cameras": []}, 4
    )  # fmt: skip
    assert "password" not in json.dumps(users) and "argon2" not in json.dumps(users)

    created = cli("keys", "create", "--name", "vms", "--role", "integrator", "--camera", "cam-a")
    key = created.out.strip()
    assert created.code == 0 and key.startswith("ak_") and len(created.out.splitlines()) == 1
    assert "shown this once" in created.err and key not in created.err
    key_id = key.split("_")[1]
    keys_listing = cli("keys", "list")
    assert key_id in keys_listing.out and key.split("_", 2)[2] not in keys_listing.out
    assert cli("keys", "revoke", key_id).out.strip() == f"revoked API key {key_id}"
    assert json.loads(cli("keys", "list", "--json").out)["keys"][0]["revoked"] is True

    store = ChdbStore(data / "chdb")
    try:
        auth = AuthSqlStore(store)
        root = auth.get_user("root")
        assert (
            root is not None
            and root.password_hash.startswith("$argon2id$")
            and PASSWORD not in root.password_hash
        )
        rows = audit_rows(store)
    finally:
        store.close()
    actions = [(r[0], r[1], r[3], r[4]) for r in rows]
    assert actions[:2] == [
        ("user.create", "user:root", "ok", "cli"),
        ("user.create", "user:ann", "ok", "cli"),
    ]
    assert ("key.revoke", f"key:{key_id}", "ok", "cli") in actions
    assert {r[2] for r in rows} == {f"cli:{_os_user()}"}
    assert all(PASSWORD not in " ".join(map(str, r)) for r in rows)
    assert anfang(capsys, monkeypatch, data, "audit", "verify").code == 0


def _os_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


ADD_X = ("users", "add", "--username", "x", "--role", "admin")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        ((*ADD_X, "--password-stdin"), "short\n", "at least 10"),
        ((*ADD_X, "--password-stdin"), "", "no password on stdin"),
        (ADD_X, PASSWORD, "pass --password-stdin"),
        (("users", "add", "--username", "a b", "--role", "admin", "--password-stdin"), PASSWORD, "username"),
        (("users", "disable", "nobody"), "", "no user 'nobody'"),
        (("keys", "revoke", "0123456789abcdef"), "", "no API key"),
        ((*ADD_X, "--password-stdin", "--site", "a b"), PASSWORD, "invalid scope"),
    ],
)
def test_refusals_are_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    run = anfang(capsys, monkeypatch, tmp_path / "data", *args, stdin=stdin)
    assert run.code == 2
    assert run.err.startswith("anfang: error: ") and message in run.err
    assert "Traceback" not in run.err and PASSWORD not in run.err


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, AuthParts, ChdbStore]]:
    """What `anfang demo` does: holds the chDB folder and serves the admin socket."""
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    store = ChdbStore(data / "chdb")
    log = open_audit_log(store, "demo-test")
    parts = build_auth(settings, store, log)
    close = start_admin_socket(
        socket_path(data), admin_handlers(parts, {"audit.verify": audit_verify_handler(log)})
    )
    yield data, parts, store
    close()
    store.close()


def test_through_the_socket_of_the_running_process(
    running: tuple[Path, AuthParts, ChdbStore],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, parts, store = running

    def in_use(_settings: Settings) -> ChdbStore:
        raise StoreError(f"data folder {data / 'chdb'} is {users_cli.IN_USE} (pid 4242): stop it")

    monkeypatch.setattr(users_cli, "open_store", in_use)  # another process would get this

    def cli(*args: str, stdin: str = "") -> Run:
        return anfang(capsys, monkeypatch, data, *args, stdin=stdin)

    assert (
        cli("users", "add", "--username", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD).code
        == 0
    )
    assert (
        cli(
            "users", "add", "--username", "ann", "--role", "operator", "--password-stdin", stdin=PASSWORD
        ).code
        == 0
    )
    pair = parts.service.login("ann", PASSWORD, source="test")
    assert parts.authenticator.authenticate(pair.access_token).role == Role.OPERATOR
    assert cli("users", "set-role", "ann", "auditor").code == 0
    assert parts.authenticator.authenticate(pair.access_token).role == Role.AUDITOR  # at once, same token
    assert cli("users", "disable", "ann").code == 0
    with pytest.raises(AuthenticationError, match="user disabled"):
        parts.authenticator.authenticate(pair.access_token)
    assert cli("users", "enable", "ann").code == 0
    assert cli("users", "set-password", "ann", "--password-stdin", stdin="the second password").code == 0
    with pytest.raises(InvalidCredentialsError):
        parts.service.login("ann", PASSWORD, source="test")
    key = cli("keys", "create", "--name", "vms", "--role", "operator").out.strip()
    assert parts.authenticator.authenticate(key).kind == "api_key"
    assert cli("keys", "revoke", key.split("_")[1]).code == 0
    with pytest.raises(AuthenticationError, match="revoked"):
        parts.authenticator.authenticate(key)
    refused = cli("users", "disable", "root")
    assert refused.code == 2 and "last enabled admin" in refused.err
    listing = cli("users", "list")
    assert [line.split()[:3] for line in listing.out.splitlines()[1:]] == [
        ["ann", "auditor", "enabled"],
        ["root", "admin", "enabled"],
    ]
    rows = audit_rows(store)
    assert {r[2] for r in rows if r[0].startswith(("user.", "key."))} == {f"cli:{_os_user()}"}
    updates = [(r[1], r[3]) for r in rows if r[0] == "user.update"]  # set-role, disable, enable, password
    assert updates == [("user:ann", "ok")] * 4 + [("user:root", "failed")]


def test_a_held_folder_without_a_socket_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def in_use(_settings: Settings) -> ChdbStore:
        raise StoreError(f"data folder is {users_cli.IN_USE} (pid 4242): stop it")

    monkeypatch.setattr(users_cli, "open_store", in_use)
    run = anfang(capsys, monkeypatch, tmp_path / "data", "users", "list")
    assert run.code == 2
    assert "is in use by another process and nobody answers on its admin socket" in run.err


def test_a_real_second_process_goes_through_the_socket(running: tuple[Path, AuthParts, ChdbStore]) -> None:
    data, parts, _store = running
    script = (
        "import sys\nfrom anfang.cli import main\n"
        "d = ['--data-dir', sys.argv[1]]\n"
        "codes = [main(['users', 'add', '--username', 'root', '--role', 'admin', '--password-stdin', *d])]\n"
        "print('---')\n"
        "codes.append(main(['users', 'list', '--json', *d]))\n"
        "print('---')\n"
        "codes.append(main(['audit', 'verify', *d]))\n"
        "print('---', codes)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(data)],
        cwd=REPO,
        env={**os.environ, **FAST_ENV},
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    added, listed, verified, codes = proc.stdout.split("---")
    assert codes.strip() == "[0, 0, 0]", proc.stdout + proc.stderr
    assert "user root: role admin" in added
    assert [u["username"] for u in json.loads(listed)["users"]] == ["root"]
    assert "INTACT" in verified
    assert parts.service.login("root", PASSWORD, source="test").role == Role.ADMIN
    assert PASSWORD not in proc.stdout + proc.stderr


def test_demo_operator_is_created_once(running: tuple[Path, AuthParts, ChdbStore]) -> None:
    _data, parts, _store = running
    created = ensure_demo_operator(parts.service)
    assert created is not None
    username, password = created
    assert username == "operator" and len(password) >= parts.service.config.password_min_length
    assert parts.service.login(username, password, source="test").role == Role.OPERATOR
    assert ensure_demo_operator(parts.service) is None
