"""The admin socket: how `anfang users ...` reaches a running embedded process.

In embedded mode chDB lets one process open the data folder, so while `anfang demo` or `anfang api`
runs, the CLI cannot open the store itself. The running process serves `<data_dir>/admin.sock`, a
Unix-domain socket (mode 0600, and every connection's peer must run as the same OS user: only the
data folder's owner gets in). One request per connection: the client writes one JSON line
`{"command": "...", "args": {...}}` and reads one JSON line back, `{"ok": true, "result": {...}}` or
`{"ok": false, "error": "..."}`. The server fills `args["actor"]` (`cli:<os user>`) from the peer's
credentials, whatever the client sent. Arguments (a new password, say) are never logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import socket
import socketserver
import stat
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
SOCKET_NAME = "admin.sock"
REQUEST_MAX_BYTES = 1024 * 1024
TIMEOUT_S = 30.0
_SUN_PATH_MAX = 100  # sockaddr_un holds 108 bytes; longer paths go through /proc/self/fd/<dir fd>


class AdminCommandError(RuntimeError):
    """A command refused (bad arguments, no such user, ...): the message is for the user."""


class AdminSocketUnavailableError(RuntimeError):
    """Nobody serves the socket (no process running, or a stale file)."""


def socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


def os_user(uid: int | None = None) -> str:
    uid = os.getuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def cli_actor(uid: int | None = None) -> str:
    """How the audit trail names a command-line user."""
    return f"cli:{os_user(uid)}"


def dispatch(handlers: Mapping[str, Handler], request: Any, actor: str) -> dict[str, Any]:
    """Runs one request against the handlers: the reply (ok + result, or not ok + error)."""
    if not isinstance(request, dict) or not isinstance(request.get("command"), str):
        return {"ok": False, "error": 'the request must be {"command": "...", "args": {...}}'}
    command, args = request["command"], request.get("args") or {}
    handler = handlers.get(command)
    if handler is None:
        return {"ok": False, "error": f"unknown command {command!r} (known: {', '.join(sorted(handlers))})"}
    if not isinstance(args, dict):
        return {"ok": False, "error": "args must be an object"}
    try:
        return {"ok": True, "result": handler({**args, "actor": actor})}
    except AdminCommandError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # a failing command must not take the server down; never log the args
        logger.exception("admin command %s failed", command)
        return {"ok": False, "error": f"{command} failed: {type(exc).__name__}: {exc}"}


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """An AF_UNIX address for `path`, short enough for sockaddr_un (via the folder's fd when long)."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _read_line(conn: socket.socket, max_bytes: int) -> bytes:
    data = bytearray()
    while b"\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > max_bytes:
            raise AdminCommandError(f"request larger than {max_bytes} bytes")
    return bytes(data.split(b"\n", 1)[0])


def _drain(conn: socket.socket, max_bytes: int, timeout_s: float = 1.0) -> None:
    """Ends our side, then reads what the client still sends (bounded): closing a socket with unread
    data resets it, and the client would lose the reply it has not read yet."""
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(timeout_s)
    drained = 0
    while drained <= 4 * max_bytes and (chunk := conn.recv(65536)):
        drained += len(chunk)


def start_admin_socket(
    path: Path,
    handlers: Mapping[str, Handler],
    *,
    request_max_bytes: int = REQUEST_MAX_BYTES,
    timeout_s: float = TIMEOUT_S,
) -> Callable[[], None]:
    """Serves `handlers` on the socket at `path` in a background thread; returns the function that
    stops it and removes the file. A stale file (nobody answering) is replaced; a live one is an error."""
    _remove_stale(path)
    owner = os.getuid()
    handlers = {"ping": lambda _args: {"pid": os.getpid()}, **handlers}

    class _Request(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn: socket.socket = self.request
            conn.settimeout(timeout_s)
            uid = _peer_uid(conn)
            try:
                if uid != owner:
                    logger.warning("admin socket: refused a connection from uid %d", uid)
                    reply: dict[str, Any] = {
                        "ok": False,
                        "error": "only the data folder's owner may use this",
                    }
                else:
                    reply = dispatch(
                        handlers, json.loads(_read_line(conn, request_max_bytes)), cli_actor(uid)
                    )
            except (AdminCommandError, ValueError) as exc:
                reply = {"ok": False, "error": f"bad request: {exc}"}
            except OSError as exc:
                logger.info("admin socket: connection dropped: %s", exc)
                return
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(reply).encode() + b"\n")
                _drain(conn, request_max_bytes)

    class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True
        request_queue_size = 64

    with _address(path) as address:
        server = _Server(address, _Request)
    os.chmod(path, 0o600)  # (the peer check above also covers the instant before this)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="admin-socket", daemon=True
    )
    thread.start()
    logger.info("admin commands (anfang users/keys) accepted on %s", path)

    def close() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=timeout_s)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    return close


def _remove_stale(path: Path) -> None:
    if not path.exists() and not path.is_symlink():
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise AdminCommandError(f"{path} exists and is not a socket: remove it")
    try:
        call_admin_socket(path, "ping", {}, timeout_s=2.0)
    except AdminSocketUnavailableError:
        path.unlink()
        return
    except AdminCommandError:
        pass
    raise AdminCommandError(f"another process serves {path}: is anfang running on this data folder already?")


def call_admin_socket(
    path: Path, command: str, args: Mapping[str, Any], *, timeout_s: float = TIMEOUT_S
) -> dict[str, Any]:
    """The result of `command` run by the process serving `path`; AdminSocketUnavailableError when
    none answers, AdminCommandError when it refuses the command."""
    if not path.exists():
        raise AdminSocketUnavailableError(f"no admin socket at {path}")
    with _address(path) as address, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout_s)
        try:
            conn.connect(address)
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            raise AdminSocketUnavailableError(f"nobody answers on {path}: {exc.strerror}") from None
        except BlockingIOError:  # the listen queue is full (AF_UNIX answers EAGAIN)
            raise AdminCommandError(f"the running anfang is busy on {path}: try again") from None
        try:
            conn.sendall(json.dumps({"command": command, "args": dict(args)}).encode() + b"\n")
            line = _read_line(conn, REQUEST_MAX_BYTES)
        except OSError as exc:
            raise AdminCommandError(f"the running anfang did not answer on {path}: {exc}") from None
    try:
        reply = json.loads(line)
    except ValueError:
        raise AdminCommandError(f"the running anfang sent an unreadable reply on {path}") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        error = reply.get("error") if isinstance(reply, dict) else None
        raise AdminCommandError(str(error or "the running anfang refused the command"))
    result = reply.get("result")
    return result if isinstance(result, dict) else {}
