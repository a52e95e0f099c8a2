"""`anfang users ...` and `anfang keys ...`: users and API keys from the command line.

They work before the first start and while the service runs. The CLI first opens the store itself
(chDB under the data folder, or the ClickHouse server); in embedded mode, when a running anfang holds
the folder, it sends the command to that process over its admin socket (anfang/admin_socket.py)
instead. Both paths run the same handlers (anfang.auth_wiring.admin_handlers), audited as
`cli:<os user>`. A password is read from stdin (`--password-stdin`) or prompted for, never taken as
an argument (it would show in `ps` and the shell history); an API key is printed once, on stdout.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from anfang.admin_socket import (
    AdminCommandError,
    AdminSocketUnavailableError,
    call_admin_socket,
    cli_actor,
    dispatch,
    socket_path,
)
from anfang.settings import Settings
from events.auth import Role
from events.ports import StoreError

if TYPE_CHECKING:
    from events.store.chdb_store import ChdbStore
    from events.store.clickhouse_store import ClickHouseStore

logger = logging.getLogger(__name__)

IN_USE = "in use by another anfang process"


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """The `users` and `keys` subcommands (each with the common flags: --data-dir, --mode, ...)."""
    roles = [r.value for r in Role]
    scope = argparse.ArgumentParser(add_help=False)
    scope.add_argument("--site", action="append", default=[], help="limit to this site (repeatable)")
    scope.add_argument("--camera", action="append", default=[], help="limit to this camera (repeatable)")
    password = argparse.ArgumentParser(add_help=False)
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (else: prompt)"
    )
    listing = argparse.ArgumentParser(add_help=False)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    users = sub.add_parser("users", help="users who sign in to the API and console")
    u = users.add_subparsers(dest="action", required=True)
    add = u.add_parser("add", parents=[common, scope, password], help="create a user")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=roles)
    u.add_parser("list", parents=[common, listing], help="list users (never their passwords)")
    for action, text in (
        ("disable", "disable a user (ends its sessions)"),
        ("enable", "enable a user again"),
    ):
        u.add_parser(action, parents=[common], help=text).add_argument("username")
    set_role = u.add_parser("set-role", parents=[common], help="change a user's role")
    set_role.add_argument("username")
    set_role.add_argument("role", choices=roles)
    set_scope = u.add_parser("set-scope", parents=[common, scope], help="limit a user to sites/cameras")
    set_scope.add_argument("username")
    set_password = u.add_parser("set-password", parents=[common, password], help="set a user's password")
    set_password.add_argument("username")

    keys = sub.add_parser("keys", help="API keys for other systems")
    k = keys.add_subparsers(dest="action", required=True)
    create = k.add_parser("create", parents=[common, scope], help="create a key (printed once)")
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument("--role", required=True, choices=roles)
    k.add_parser("list", parents=[common, listing], help="list keys (never the keys themselves)")
    k.add_parser("revoke", parents=[common], help="revoke a key").add_argument("key_id")


def run(
    settings: Settings,
    args: argparse.Namespace,
    *,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Runs `anfang users|keys <action>`; refusals raise AdminCommandError (one line, exit 2)."""
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    command, request = _request(args, stdin, err)
    result = run_admin_command(settings, command, request)
    _print(command, result, args, out, err)
    return 0


def _request(args: argparse.Namespace, stdin: TextIO, err: TextIO) -> tuple[str, dict[str, Any]]:
    scope = {"sites": getattr(args, "site", []), "cameras": getattr(args, "camera", [])}
    action = args.action.replace("-", "_")
    if args.command == "keys":
        if action == "create":
            return "keys.create", {"name": args.name, "role": args.role, **scope}
        return f"keys.{action}", {"key_id": args.key_id} if action == "revoke" else {}
    if action == "add":
        password = read_password(stdin, err, from_stdin=args.password_stdin)
        return "users.add", {"username": args.username, "role": args.role, "password": password, **scope}
    if action == "list":
        return "users.list", {}
    request: dict[str, Any] = {"username": args.username}
    if action == "set_role":
        request["role"] = args.role
    elif action == "set_scope":
        request.update(scope)
    elif action == "set_password":
        request["password"] = read_password(stdin, err, from_stdin=args.password_stdin)
    return f"users.{action}", request


def read_password(stdin: TextIO, err: TextIO, *, from_stdin: bool) -> str:
    """The first line of stdin (without its line end), or typed twice at a prompt."""
    if from_stdin:
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise AdminCommandError("no password on stdin (one line expected)")
        return password
    if not stdin.isatty():
        raise AdminCommandError("stdin is not a terminal: pass --password-stdin and pipe the password in")
    first = getpass.getpass("password: ", stream=err)
    if getpass.getpass("again: ", stream=err) != first:
        raise AdminCommandError("the passwords differ")
    return first


def run_admin_command(settings: Settings, command: str, args: dict[str, Any]) -> dict[str, Any]:
    """The result of an admin command, run on the store directly or, when a running embedded anfang
    holds the data folder, by that process over its admin socket."""
    try:
        store = open_store(settings)
    except StoreError as exc:
        if settings.mode != "embedded" or IN_USE not in str(exc):
            raise
        path = socket_path(settings.data_dir)
        try:
            return call_admin_socket(path, command, args)
        except AdminSocketUnavailableError as unavailable:
            raise AdminCommandError(
                f"the data folder {settings.data_dir} is in use by another process and nobody answers on "
                f"its admin socket ({unavailable}): stop that process, or run this command on the "
                "machine and as the user that runs it"
            ) from None
    try:
        from anfang.audit_commands import audit_chain_id, open_audit_log
        from anfang.auth_wiring import admin_handlers, build_admin

        audit = open_audit_log(store, audit_chain_id(settings, "cli"))
        handlers = admin_handlers(build_admin(settings, store, audit))
        reply = dispatch(handlers, {"command": command, "args": args}, cli_actor())
    finally:
        store.close()
    if not reply["ok"]:
        raise AdminCommandError(str(reply["error"]))
    result: dict[str, Any] = reply["result"]
    return result


def open_store(settings: Settings) -> ChdbStore | ClickHouseStore:
    """The services' store, opened here (the pipeline's imports only load when it is)."""
    from anfang.wiring import open_store as open_services_store

    return open_services_store(settings)


# --- output ---------------------------------------------------------------------------------------


def _scope_text(item: dict[str, Any]) -> str:
    sites, cameras = item["scope"]["sites"], item["scope"]["cameras"]
    parts = ([f"sites {','.join(sites)}"] if sites else []) + (
        [f"cameras {','.join(cameras)}"] if cameras else []
    )
    return "; ".join(parts) or "all cameras"


def _when(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _print(command: str, result: dict[str, Any], args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
    if command in ("users.list", "keys.list") and getattr(args, "json", False):
        print(json.dumps(result, indent=2), file=out)
    elif command == "users.list":
        rows = [["USERNAME", "ROLE", "STATUS", "SCOPE", "UPDATED"]]
        for u in result["users"]:
            status = "disabled" if u["disabled"] else "enabled"
            rows.append([u["username"], u["role"], status, _scope_text(u), _when(u["updated_ts_ms"])])
        _table(rows, out)
    elif command == "keys.list":
        rows = [["KEY ID", "NAME", "ROLE", "STATUS", "SCOPE", "CREATED BY", "CREATED"]]
        for k in result["keys"]:
            status = "revoked" if k["revoked"] else "active"
            rows.append(
                [
                    k["key_id"],
                    k["name"],
                    k["role"],
                    status,
                    _scope_text(k),
                    k["created_by"],
                    _when(k["created_ts_ms"]),
                ]
            )
        _table(rows, out)
    elif command == "keys.create":
        key = result["key"]
        print(
            f"created API key {key['key_id']} ({key['name']!r}, role {key['role']}, {_scope_text(key)})",
            file=err,
        )
        print("the key is shown this once (only its hash is stored): copy it now", file=err)
        print(result["api_key"], file=out)
    elif command == "keys.revoke":
        print(f"revoked API key {result['key']['key_id']}", file=out)
    else:
        u = result["user"]
        status = "disabled" if u["disabled"] else "enabled"
        print(
            f"user {u['username']}: role {u['role']}, {status}, {_scope_text(u)} (version {u['version']})",
            file=out,
        )
