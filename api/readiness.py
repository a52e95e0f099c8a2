"""Readiness: named checks ("store", "bus", ...) run side by side, each bounded by a timeout.

A check returns None when its dependency answers, else the cause; one that raises reports the
exception as its cause. A hung dependency (a stopped server accepts connections but never answers)
must not hang `/readyz`, and must not cost a thread per probe: each check runs in its own daemon
thread, and a check still running from an earlier probe is waited on again, not started twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, wait

from api.redaction import redact_text

logger = logging.getLogger(__name__)

#: None when ok, else the cause (one line).
ReadinessCheck = Callable[[], str | None]


def _run(check: ReadinessCheck, result: Future[str | None]) -> None:
    try:
        cause = check()
    except Exception as exc:  # a readiness check reports every failure, whatever its type
        cause = f"{type(exc).__name__}: {exc}"
    if cause is not None:
        cause = redact_text(cause) or "failed (no cause given)"
    result.set_result(cause)


class ReadinessProbe:
    def __init__(self, checks: Mapping[str, ReadinessCheck], *, timeout_s: float) -> None:
        self._checks = dict(sorted(checks.items()))
        self._timeout_s = timeout_s
        self._running: dict[str, Future[str | None]] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def run(self) -> dict[str, str | None]:
        """Every check's cause (None when ok), by name; a check that did not answer in time is a failure."""
        with self._lock:
            pending: dict[str, Future[str | None]] = {}
            for name, check in self._checks.items():
                result = self._running.get(name)
                if result is None or result.done():
                    result = Future()
                    self._running[name] = result
                    threading.Thread(
                        target=_run, args=(check, result), name=f"readyz-{name}", daemon=True
                    ).start()
                pending[name] = result
        wait(pending.values(), timeout=self._timeout_s)
        causes = {
            name: result.result() if result.done() else f"no answer within {self._timeout_s:g} s"
            for name, result in pending.items()
        }
        failed = {name: cause for name, cause in causes.items() if cause is not None}
        with self._lock:  # one line per change of state, not one per probe
            changed, self._failed = failed != self._failed, failed
        if changed and failed:
            logger.warning("not ready: %s", "; ".join(f"{n}: {c}" for n, c in failed.items()))
        elif changed:
            logger.info("ready: %s", ", ".join(causes))
        return causes
