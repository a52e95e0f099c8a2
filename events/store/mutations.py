"""Waiting for `ALTER TABLE ... DELETE` mutations, on every engine: ClickHouse 18.16 has no
`mutations_sync`, so a store that must not return before the rows are gone polls `system.mutations`."""

from __future__ import annotations

import logging
import time

from events.ports import StoreError
from events.store.runner import SqlRunner
from events.store.sql import Binder

logger = logging.getLogger(__name__)

POLL_S = (0.01, 0.5)  # first and longest pause between looks at system.mutations


def wait_for_mutations(runner: SqlRunner, table: str, timeout_s: float, *, what: str = "erasure") -> None:
    """Until the runner's `table` has no mutation left to do; StoreError naming the table after
    `timeout_s`."""
    database = runner.database

    def pending(bind: Binder) -> str:
        return (
            f"SELECT count() FROM system.mutations WHERE database = {bind(database)} "
            f"AND table = {bind(table)} AND is_done = 0"
        )

    deadline = time.monotonic() + timeout_s
    pause_s = POLL_S[0]
    while int(str(runner.select(pending)[0][0])) > 0:
        if time.monotonic() >= deadline:
            raise StoreError(
                f"{what} in table {database}.{table} did not finish within {timeout_s:g} s "
                "(see system.mutations)"
            )
        time.sleep(pause_s)
        pause_s = min(pause_s * 2, POLL_S[1])
