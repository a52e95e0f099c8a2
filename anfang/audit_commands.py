"""`anfang audit verify`, the audit log the composition root wires, and the admin-socket handler.

Chains: every process that appends audit records writes a chain of its own, named
`<process>-<worker id>` (`audit_chain_id`), so a restart continues the same chain. Two processes of
one kind on one host must then differ in `ANFANG_WORKER_ID`; if they do not, their rows fork the
chain and `verify` reports the shared seqs. A CLI run in distributed mode may overlap another, so
its chain also carries its pid and start time.

Embedded mode: while the service runs it holds the data folder, so the CLI asks it over the admin
socket (`ask_service`, answered by `audit_verify_handler`) instead of opening the store itself.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO, cast

from anfang.settings import Settings
from events.audit import AuditLogReader, AuditVerification
from events.ports import EventStore, StoreError
from events.store.audit_sql import HashChainedAuditLog
from events.store.runner import SqlRunner

logger = logging.getLogger(__name__)

#: Exit codes of `anfang audit verify`.
EXIT_INTACT, EXIT_TAMPERED, EXIT_CANNOT_RUN = 0, 1, 2

#: What `ask_service` sends through the admin socket; the service answers with `verification_dict`.
VERIFY_REQUEST: dict[str, Any] = {"command": "audit.verify"}

#: Sends one request to the running service and returns its answer (raises OSError when unreachable).
AskService = Callable[[dict[str, Any]], dict[str, Any]]


def audit_chain_id(settings: Settings, process: str) -> str:
    """The chain a process of kind `process` (api, demo, cli, ...) appends to."""
    chain_id = f"{process}-{settings.worker_id}"
    if process == "cli" and settings.mode == "distributed":
        chain_id += f"-{os.getpid()}-{int(time.time() * 1000)}"
    return chain_id


def sql_runner(store: EventStore) -> SqlRunner:
    """The store's `SqlRunner` side (ChdbStore and ClickHouseStore have one)."""
    if not all(callable(getattr(store, name, None)) for name in ("select", "command", "insert_rows")):
        raise TypeError(f"{type(store).__name__} cannot run SQL for the audit log")
    return cast(SqlRunner, store)


def open_audit_log(store: EventStore, chain_id: str) -> HashChainedAuditLog:
    """The audit log in `store` (tables created when missing): sink for appends, reader for the API."""
    log = HashChainedAuditLog(sql_runner(store), chain_id)
    log.ensure_schema()
    return log


def verification_dict(v: AuditVerification) -> dict[str, Any]:
    """The JSON form of a verification (the admin socket's answer)."""
    return {
        "ok": v.ok,
        "rows": v.rows,
        "problems": list(v.problems),
        "chains": [
            {
                "chain_id": c.chain_id,
                "rows": c.rows,
                "first_seq": c.first_seq,
                "last_seq": c.last_seq,
                "head_seq": c.head_seq,
                "problems": c.problems,
            }
            for c in v.chains
        ],
    }


def audit_verify_handler(log: AuditLogReader) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The admin socket's `audit.verify` handler: the running service verifies its own store.
    Answers `verification_dict(...)`, or `{"error": "..."}` when the store fails."""

    def handle(_request: dict[str, Any]) -> dict[str, Any]:
        try:
            return verification_dict(log.verify())
        except StoreError as exc:
            logger.warning("audit verify over the admin socket failed: %s", exc)
            return {"error": f"store unavailable: {exc}"}

    return handle


def _chain_line(c: dict[str, Any]) -> str:
    seqs = "no rows" if c.get("first_seq") is None else f"seq {c['first_seq']}..{c['last_seq']}"
    head = "no head record" if c.get("head_seq") is None else f"head at seq {c['head_seq']}"
    return f"  chain {c['chain_id']}: {c['rows']} rows checked ({seqs}, {head}), {c['problems']} problem(s)"


def print_verification(answer: dict[str, Any], out: TextIO, err: TextIO) -> int:
    """Prints the summary of a `verification_dict` answer; returns the exit code it means."""
    if "error" in answer or not isinstance(answer.get("ok"), bool):
        print(f"audit verify: cannot verify: {answer.get('error', 'unexpected answer')}", file=err)
        return EXIT_CANNOT_RUN
    chains = answer.get("chains", [])
    print(f"audit trail: {answer['rows']} row(s) in {len(chains)} chain(s)", file=out)
    for chain in chains:
        print(_chain_line(chain), file=out)
    if answer["ok"]:
        print(
            "INTACT: every row matches its hash, links to the row before and reaches its chain's head",
            file=out,
        )
        return EXIT_INTACT
    problems = answer.get("problems", [])
    print(f"TAMPERED: {len(problems)} problem(s):", file=out)
    for problem in problems:
        print(f"  {problem}", file=out)
    return EXIT_TAMPERED


def _open_store(settings: Settings) -> EventStore:
    from anfang.wiring import make_store

    return make_store(settings)


def audit_verify(
    settings: Settings,
    *,
    ask_service: AskService | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`anfang audit verify`: 0 when every chain is intact, 1 when tampered, 2 when it cannot run.

    Embedded: opens chDB under `settings.data_dir`; when the running service holds the folder and
    `ask_service` is given, asks the service instead. Distributed: the ClickHouse server.
    """
    out, err = out or sys.stdout, err or sys.stderr
    chdb_dir = settings.data_dir / "chdb"
    if settings.mode == "embedded" and not chdb_dir.is_dir():
        print(f"audit verify: no store at {chdb_dir} (wrong --data-dir?)", file=err)
        return EXIT_CANNOT_RUN
    try:
        store = _open_store(settings)
    except StoreError as exc:
        if settings.mode == "embedded" and ask_service is not None and "in use by another" in str(exc):
            return _verify_through_service(ask_service, out, err)
        print(f"audit verify: cannot open the store: {exc}", file=err)
        return EXIT_CANNOT_RUN
    try:
        log = open_audit_log(store, audit_chain_id(settings, "cli"))
        return print_verification(verification_dict(log.verify()), out, err)
    except StoreError as exc:
        print(f"audit verify: the store failed: {exc}", file=err)
        return EXIT_CANNOT_RUN
    finally:
        store.close()


def _verify_through_service(ask_service: AskService, out: TextIO, err: TextIO) -> int:
    try:
        answer = ask_service(dict(VERIFY_REQUEST))
    except (OSError, ValueError) as exc:
        print(f"audit verify: the data folder is in use and the service did not answer: {exc}", file=err)
        return EXIT_CANNOT_RUN
    return print_verification(answer, out, err)
