"""The audit trail in the store: `audit_log` (append-only, hash-chained) and `audit_heads`.

Each writer process appends to a chain of its own (`chain_id`: one per concurrently running writer;
the same id again after a restart continues that chain). Row n of a chain holds `seq` n, the hash of
row n-1 (`prev_hash`) and its own `row_hash` (audit_chain.row_hash), so an edited row (content no
longer matches its hash), a deleted row (a gap in `seq`), an inserted or reordered row (a duplicate
seq or a broken `prev_hash` link) shows in `verify()`. A pure chain cannot show that its LAST rows
were deleted, so every append also records the chain's head (chain_id, seq, row_hash) in
`audit_heads`; `verify()` reports rows missing up to the head, or a last row that differs from it.

What this does not stop: someone with write access to the whole database can rewrite a chain
consistently (recompute every hash and the head; there is no secret in the hash) or remove a whole
chain with its head. Closing that needs the heads outside this database: export them periodically
(or sign them with a key the database never sees) to a separate, append-only system and compare.

Plain (Replacing)MergeTree DDL and SQL run on ClickHouse 18.16 and chDB 26.x alike; values go
through the runner's `Binder` only.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial

from events.audit import (
    GENESIS_HASH,
    AuditCursor,
    AuditInvalidQueryError,
    AuditPage,
    AuditQuery,
    AuditRecord,
    AuditVerification,
)
from events.ports import StoreError
from events.store.audit_chain import (
    RECORD_FIELDS,
    TEXT_FIELDS,
    ChainWalk,
    clean_text,
    group_by_seq,
    parse_audit_row,
    row_hash,
)
from events.store.audit_chain import stored_row as parse_stored_row
from events.store.runner import SqlRunner
from events.store.sql import Binder, SqlValue, check_identifier

logger = logging.getLogger(__name__)

AUDIT_TABLE = "audit_log"
HEADS_TABLE = "audit_heads"
AUDIT_COLUMNS: tuple[str, ...] = ("chain_id", "seq", *RECORD_FIELDS, "prev_hash", "row_hash")
HEAD_COLUMNS: tuple[str, ...] = ("chain_id", "seq", "row_hash", "ts_ms")


def create_audit_table_sql(database: str) -> str:
    text = ",\n".join(f"    {name} String" for name in TEXT_FIELDS)
    return "\n".join(
        [
            f"CREATE TABLE IF NOT EXISTS {check_identifier(database)}.{AUDIT_TABLE} (",
            "    chain_id String,",
            "    seq UInt64,",
            "    ts_ms Int64,",
            f"{text},",
            "    prev_hash String,",
            "    row_hash String",
            ")",
            "ENGINE = MergeTree",
            "PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000), 'UTC'))",
            "ORDER BY (chain_id, seq)",
        ]
    )


def create_heads_table_sql(database: str) -> str:
    """One row per chain once merged (the highest seq wins); reads take argMax, never rely on merges."""
    return "\n".join(
        [
            f"CREATE TABLE IF NOT EXISTS {check_identifier(database)}.{HEADS_TABLE} (",
            "    chain_id String,",
            "    seq UInt64,",
            "    row_hash String,",
            "    ts_ms Int64",
            ")",
            "ENGINE = ReplacingMergeTree(seq)",
            "ORDER BY chain_id",
        ]
    )


def check_audit_query(q: AuditQuery, max_limit: int) -> None:
    if not 1 <= q.limit <= max_limit:
        raise AuditInvalidQueryError(f"limit must be 1..{max_limit}, got {q.limit}")
    if q.since_ms is not None and q.until_ms is not None and q.since_ms > q.until_ms:
        raise AuditInvalidQueryError(f"since_ms ({q.since_ms}) is after until_ms ({q.until_ms})")


def query_sql(database: str, q: AuditQuery, bind: Binder) -> str:
    """One page newest first, plus one row to tell whether another page follows."""
    conds = []
    for column, value in (("actor", q.actor), ("target", q.target), ("outcome", q.outcome)):
        if value is not None:
            conds.append(f"{column} = {bind(value)}")
    if q.chain_id is not None:
        conds.append(f"chain_id = {bind(q.chain_id)}")
    if q.actions:
        conds.append(f"action IN {bind(tuple(dict.fromkeys(q.actions)))}")
    if q.since_ms is not None:
        conds.append(f"ts_ms >= {bind(q.since_ms)}")
    if q.until_ms is not None:
        conds.append(f"ts_ms <= {bind(q.until_ms)}")
    if q.after is not None:
        ts, chain, seq = bind(q.after.ts_ms), bind(q.after.chain_id), bind(q.after.seq)
        same_ts = f"chain_id < {chain} OR (chain_id = {chain} AND seq < {seq})"
        conds.append(f"(ts_ms < {ts} OR (ts_ms = {ts} AND ({same_ts})))")
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    return (
        f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {database}.{AUDIT_TABLE}{where} "
        f"ORDER BY ts_ms DESC, chain_id DESC, seq DESC LIMIT {int(q.limit) + 1}"
    )


def heads_sql(database: str, chain_id: str | None, bind: Binder) -> str:
    where = "" if chain_id is None else f" WHERE chain_id = {bind(chain_id)}"
    return (
        f"SELECT chain_id, max(seq), argMax(row_hash, seq) FROM {database}.{HEADS_TABLE}{where} "
        "GROUP BY chain_id"
    )


def chains_sql(database: str) -> str:
    return f"SELECT DISTINCT chain_id FROM {database}.{AUDIT_TABLE}"


def last_row_sql(database: str, chain_id: str, bind: Binder) -> str:
    return (
        f"SELECT seq, row_hash FROM {database}.{AUDIT_TABLE} WHERE chain_id = {bind(chain_id)} "
        "ORDER BY seq DESC, row_hash DESC LIMIT 1"
    )


def next_seq_sql(database: str, chain_id: str, from_seq: int, bind: Binder) -> str:
    """How many rows of the chain have seq >= from_seq, and the smallest such seq."""
    return (
        f"SELECT count(), min(seq) FROM {database}.{AUDIT_TABLE} "
        f"WHERE chain_id = {bind(chain_id)} AND seq >= {bind(from_seq)}"
    )


def chain_page_sql(database: str, chain_id: str, lo_seq: int, hi_seq: int, bind: Binder) -> str:
    """Every row of the chain with lo_seq <= seq < hi_seq (duplicates included), in seq order."""
    return (
        f"SELECT seq, {', '.join(RECORD_FIELDS)}, prev_hash, row_hash FROM {database}.{AUDIT_TABLE} "
        f"WHERE chain_id = {bind(chain_id)} AND seq >= {bind(lo_seq)} AND seq < {bind(hi_seq)} "
        "ORDER BY seq, row_hash"
    )


class HashChainedAuditLog:
    """`AuditSink` and `AuditLogReader` over a store's `SqlRunner`; appends are serialised by a lock.

    The chain's head is read from the store on the first append (and again after a failed one), so a
    new instance with the same `chain_id` continues the chain. If the stored rows end before the head
    record (rows deleted while no writer ran), the chain continues after the head, leaving the gap
    for `verify()` to report rather than reusing the deleted seqs.
    """

    def __init__(
        self,
        runner: SqlRunner,
        chain_id: str,
        *,
        max_limit: int = 10_000,
        verify_batch_rows: int = 50_000,
        max_problems: int = 1000,
        text_max_chars: int = 4000,
    ) -> None:
        if not chain_id or len(chain_id) > 200:
            raise ValueError(f"chain_id must be 1..200 characters, got {chain_id!r}")
        self._runner = runner
        self._db = check_identifier(runner.database)
        self.chain_id = chain_id
        self._max_limit = max_limit
        self._batch = verify_batch_rows
        self._max_problems = max_problems
        self._text_max_chars = text_max_chars
        self._lock = threading.Lock()
        self._next: tuple[int, str] | None = None  # (seq, prev_hash) of the next append; None: reload

    def ensure_schema(self) -> None:
        self._runner.command(lambda _: f"CREATE DATABASE IF NOT EXISTS {self._db}")
        self._runner.command(lambda _: create_audit_table_sql(self._db))
        self._runner.command(lambda _: create_heads_table_sql(self._db))

    # --- appending ---------------------------------------------------------------------------------

    def append(self, record: AuditRecord) -> None:
        """Stores `record` as the chain's next row, then the chain's head; raises `StoreError` when the
        row cannot be stored (a head that cannot be is logged and written again with the next row)."""
        texts = [clean_text(str(getattr(record, name)), self._text_max_chars) for name in TEXT_FIELDS]
        fields: dict[str, object] = {"ts_ms": record.ts_ms, **dict(zip(TEXT_FIELDS, texts, strict=True))}
        with self._lock:
            seq, prev = self._position()
            digest = row_hash(self.chain_id, seq, fields, prev)
            row: list[SqlValue] = [self.chain_id, seq, record.ts_ms, *texts, prev, digest]
            try:
                self._runner.insert_rows(AUDIT_TABLE, AUDIT_COLUMNS, [row])
            except StoreError:
                self._next = None  # it may have landed after all: re-read the chain before the next
                raise
            self._next = (seq + 1, digest)
            self._write_head(seq, digest, record.ts_ms)

    def _write_head(self, seq: int, digest: str, ts_ms: int) -> None:
        try:
            self._runner.insert_rows(HEADS_TABLE, HEAD_COLUMNS, [(self.chain_id, seq, digest, ts_ms)])
        except StoreError as exc:
            logger.warning("audit chain %s: head of seq %d not recorded (next append retries): %s",
                           self.chain_id, seq, exc)  # fmt: skip

    def _position(self) -> tuple[int, str]:
        """(seq, prev_hash) of the next row, read from the store when not known."""
        if self._next is not None:
            return self._next
        rows = self._runner.select(lambda b: last_row_sql(self._db, self.chain_id, b))
        heads = self._runner.select(lambda b: heads_sql(self._db, self.chain_id, b))
        last = (int(str(rows[0][0])), str(rows[0][1])) if rows else None
        head = (int(str(heads[0][1])), str(heads[0][2])) if heads else None
        if head is not None and (last is None or last[0] < head[0]):
            logger.error(
                "audit chain %s: the head record says seq %d but the stored rows end at %s: rows were "
                "deleted; continuing after the head so `anfang audit verify` reports the gap",
                self.chain_id, head[0], "none" if last is None else last[0],
            )  # fmt: skip
            self._next = (head[0] + 1, head[1])
        elif last is not None:
            self._next = (last[0] + 1, last[1])
            if head is None or head[0] < last[0]:  # its writer stopped between a row and its head
                self._write_head(last[0], last[1], int(time.time() * 1000))
        else:
            self._next = (0, GENESIS_HASH)
        return self._next

    # --- reading -----------------------------------------------------------------------------------

    def query(self, q: AuditQuery) -> AuditPage:
        check_audit_query(q, self._max_limit)
        raw = self._runner.select(lambda b: query_sql(self._db, q, b))
        rows = [parse_audit_row(r) for r in raw[: q.limit]]
        more = len(raw) > q.limit and rows
        cursor = AuditCursor(rows[-1].record.ts_ms, rows[-1].chain_id, rows[-1].seq) if more else None
        return AuditPage(rows=rows, next_cursor=cursor)

    def verify(self) -> AuditVerification:
        """Walks every chain (this writer's and the others') in seq order, in pages of seq ranges.

        Heads are read before rows: a writer records a row before its head, so every head read has
        its row in place, and rows appended meanwhile only extend a chain past its head.
        """
        heads = {
            str(c): (int(str(s)), str(h))
            for c, s, h in self._runner.select(lambda b: heads_sql(self._db, None, b))
        }
        chains = {str(r[0]) for r in self._runner.select(lambda _: chains_sql(self._db))} | set(heads)
        problems: list[str] = []
        summaries = []
        found = 0
        for chain_id in sorted(chains):
            head = heads.get(chain_id)
            walk = ChainWalk(
                chain_id,
                head_seq=None if head is None else head[0],
                head_hash=None if head is None else head[1],
                max_problems=max(0, self._max_problems - len(problems)),
            )
            self._walk(walk)
            summaries.append(walk.finish())
            problems.extend(walk.problems)
            found += walk.found
        if found > len(problems):
            problems.append(f"... and {found - len(problems)} more problems")
        return AuditVerification(ok=found == 0, rows=sum(s.rows for s in summaries), problems=problems,
                                 chains=summaries)  # fmt: skip

    def _walk(self, walk: ChainWalk) -> None:
        lo = 0
        while True:
            count, first = self._runner.select(partial(next_seq_sql, self._db, walk.chain_id, lo))[0]
            if int(str(count)) == 0:
                return
            lo = int(str(first))
            hi = lo + self._batch
            page = [
                parse_stored_row(r)
                for r in self._runner.select(partial(chain_page_sql, self._db, walk.chain_id, lo, hi))
            ]
            for group in group_by_seq(page):
                walk.feed(group)
            lo = hi
