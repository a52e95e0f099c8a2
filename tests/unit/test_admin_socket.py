"""The admin socket: one JSON request per connection, 0600, the owner only, stale files replaced."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anfang import admin_socket
from anfang.admin_socket import (
    AdminCommandError,
    AdminSocketUnavailableError,
    call_admin_socket,
    dispatch,
    start_admin_socket,
)


def echo(args: dict[str, Any]) -> dict[str, Any]:
    return {"echo": args}


def refuse(args: dict[str, Any]) -> dict[str, Any]:
    raise AdminCommandError(f"no {args.get('what')}")


def crash(_args: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("boom")


HANDLERS = {"echo": echo, "refuse": refuse, "crash": crash}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "admin.sock"
    close = start_admin_socket(path, HANDLERS)
    yield path
    close()


def test_a_command_round_trips_with_the_actor_filled_in_by_the_server(served: Path) -> None:
    result = call_admin_socket(served, "echo", {"x": [1, "二"], "actor": "forged"})
    assert result == {"echo": {"x": [1, "二"], "actor": admin_socket.cli_actor()}}
    assert call_admin_socket(served, "ping", {})["pid"] == os.getpid()


def test_refusals_and_crashes_come_back_as_errors_and_the_server_lives_on(
    served: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(AdminCommandError, match=r"^no key$"):
        call_admin_socket(served, "refuse", {"what": "key", "password": "s3cret-pw"})
    with pytest.raises(AdminCommandError, match="crash failed: RuntimeError: boom"):
        call_admin_socket(served, "crash", {"password": "s3cret-pw"})
    with pytest.raises(AdminCommandError, match="unknown command 'nope'"):
        call_admin_socket(served, "nope", {})
    assert call_admin_socket(served, "echo", {})["echo"]["actor"].startswith("cli:")
    assert "s3cret-pw" not in caplog.text


def test_the_socket_is_private_to_its_owner(served: Path) -> None:
    assert stat.S_ISSOCK(served.stat().st_mode)
    assert stat.S_IMODE(served.stat().st_mode) == 0o600


def test_another_uid_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin_socket, "_peer_uid", lambda _conn: os.getuid() + 1)
    close = start_admin_socket(tmp_path / "admin.sock", HANDLERS)
    try:
        with pytest.raises(AdminCommandError, match="only the data folder's owner"):
            call_admin_socket(tmp_path / "admin.sock", "echo", {})
    finally:
        close()


def _raw(path: Path, payload: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(path))
        try:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
        except BrokenPipeError:
            pass  # the server answered (too large) before reading it all
        data = b"".join(iter(lambda: conn.recv(4096), b""))
    reply: dict[str, Any] = json.loads(data)
    return reply


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json\n", "bad request"),
        (b"[1, 2]\n", "the request must be"),
        (b'{"command": "echo", "args": [1]}\n', "args must be an object"),
        (b"{" + b" " * (2 * 1024 * 1024), "bad request: request larger than"),
    ],
)
def test_malformed_requests_are_answered_not_fatal(served: Path, payload: bytes, error: str) -> None:
    reply = _raw(served, payload)
    assert reply["ok"] is False and error in reply["error"]
    assert call_admin_socket(served, "echo", {})["echo"]


def test_concurrent_clients(served: Path) -> None:
    results: list[int] = []

    def one(i: int) -> None:
        results.append(call_admin_socket(served, "echo", {"i": i})["echo"]["i"])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(20))


def test_closing_removes_the_file_and_a_stale_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "admin.sock"
    close = start_admin_socket(path, HANDLERS)
    close()
    assert not path.exists()
    with pytest.raises(AdminSocketUnavailableError, match="no admin socket"):
        call_admin_socket(path, "echo", {})
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # a file left by a killed process: nobody listens
    stale.close()
    with pytest.raises(AdminSocketUnavailableError, match="nobody answers"):
        call_admin_socket(path, "echo", {})
    close = start_admin_socket(path, HANDLERS)
    try:
        assert call_admin_socket(path, "echo", {})["echo"]
        with pytest.raises(AdminCommandError, match="another process serves"):
            start_admin_socket(path, HANDLERS)
    finally:
        close()


def test_a_regular_file_in_the_way_is_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "admin.sock"
    path.write_text("mine")
    with pytest.raises(AdminCommandError, match="not a socket"):
        start_admin_socket(path, HANDLERS)
    assert path.read_text() == "mine"


def test_a_long_folder_path_still_works(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "admin.sock"
    close = start_admin_socket(path, HANDLERS)
    try:
        assert path.exists() and len(str(path)) > 108
        assert call_admin_socket(path, "echo", {"x": 1})["echo"]["x"] == 1
    finally:
        close()
    assert not path.exists()


def test_dispatch_runs_locally_like_the_socket() -> None:
    assert dispatch(HANDLERS, {"command": "echo", "args": {"a": 1}}, "cli:me") == {
        "ok": True,
        "result": {"echo": {"a": 1, "actor": "cli:me"}},
    }
    assert dispatch(HANDLERS, {"command": "refuse", "args": {"what": "x"}}, "cli:me") == {
        "ok": False,
        "error": "no x",
    }
