"""The hash chain of the audit trail: each row's canonical form and hash, and the walk that checks a
chain (pure logic, no SQL: `audit_sql` feeds it the rows it reads).

A row's hash is the SHA-256 (hex) of `HASH_VERSION`, a newline, then the JSON object of every field
(`chain_id`, `seq`, the `AuditRecord` fields, `prev_hash`) with sorted keys, no spaces and ASCII
escapes, so it does not depend on the engine's text encoding or column order. `prev_hash` of row 0
is `GENESIS_HASH`; of row n, the `row_hash` of row n-1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from events.audit import GENESIS_HASH, AuditRecord, AuditRow, ChainSummary

HASH_VERSION = "anfang-audit-v1"

#: The AuditRecord fields stored as columns, in column order.
RECORD_FIELDS: tuple[str, ...] = (
    "ts_ms",
    "actor",
    "role",
    "action",
    "target",
    "source",
    "outcome",
    "purpose",
    "detail",
)

TEXT_FIELDS = RECORD_FIELDS[1:]

#: One stored row as read back, in `audit_sql.AUDIT_COLUMNS` order (values as the engine returned them).
RawRow = Sequence[object]


def clean_text(text: str, max_chars: int) -> str:
    """`text` as valid UTF-8 (lone surrogates replaced) and at most `max_chars` characters long, so
    what is stored is exactly what was hashed."""
    valid = text.encode("utf-8", "replace").decode("utf-8")
    if len(valid) <= max_chars:
        return valid
    marker = " [truncated]"
    return valid[: max(0, max_chars - len(marker))] + marker


def row_hash(chain_id: str, seq: int, fields: dict[str, object], prev_hash: str) -> str:
    """SHA-256 (hex) of the row's canonical form; `fields` maps every name in RECORD_FIELDS."""
    body = {name: fields[name] for name in RECORD_FIELDS}
    body.update(chain_id=chain_id, seq=seq, prev_hash=prev_hash)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{HASH_VERSION}\n{text}".encode("ascii")).hexdigest()


def parse_audit_row(raw: RawRow) -> AuditRow:
    """A row as stored, not re-validated (an edited row may hold values AuditRecord would refuse)."""
    chain_id, seq, ts_ms, *texts, prev, stored = raw
    values: dict[str, Any] = dict(zip(TEXT_FIELDS, (str(t) for t in texts), strict=True))
    record = AuditRecord.model_construct(ts_ms=int(str(ts_ms)), **values)
    return AuditRow(record, str(chain_id), int(str(seq)), str(prev), str(stored))


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One row of a chain as verification reads it (record fields raw: an edit may make them invalid)."""

    seq: int
    fields: dict[str, object]
    prev_hash: str
    row_hash: str


def stored_row(raw: RawRow) -> StoredRow:
    """From `seq, <RECORD_FIELDS>, prev_hash, row_hash` as selected by `audit_sql.chain_page_sql`."""
    seq, *values, prev, stored = raw
    fields: dict[str, object] = dict(zip(RECORD_FIELDS, values, strict=True))
    fields["ts_ms"] = int(str(fields["ts_ms"]))
    for name in TEXT_FIELDS:
        fields[name] = str(fields[name])
    return StoredRow(int(str(seq)), fields, str(prev), str(stored))


@dataclass
class ChainWalk:
    """Checks one chain fed in seq order, a whole seq group at a time (rows sharing a seq).

    Finds: a row whose content does not match its hash (edited), missing seqs (deleted rows),
    several rows with one seq (inserted), a `prev_hash` that is not the hash of the row before
    (inserted, replaced or reordered), and against the head record: rows missing at the end
    (truncated) or a last row that differs from the head (rewritten).
    """

    chain_id: str
    head_seq: int | None = None
    head_hash: str | None = None
    max_problems: int = 1000  # findings kept as text; `found` counts them all
    rows: int = 0
    found: int = 0
    problems: list[str] = field(default_factory=list)
    first_seq: int | None = None
    last_seq: int | None = None
    _expected: int = 0
    _prev_hashes: set[str] = field(default_factory=lambda: {GENESIS_HASH})

    def _report(self, problem: str) -> None:
        self.found += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(problem)

    def _missing(self, lo: int, hi: int, why: str) -> None:
        span = f"seq {lo}" if lo == hi else f"seq {lo}..{hi}"
        self._report(f"chain {self.chain_id}: {span} missing ({why})")

    def feed(self, group: Sequence[StoredRow]) -> None:
        seq = group[0].seq
        if self.first_seq is None:
            self.first_seq = seq
        self.last_seq = seq
        self.rows += len(group)
        where = f"chain {self.chain_id} seq {seq}"
        gap = seq > self._expected
        if gap:
            self._missing(self._expected, seq - 1, "deleted rows")
        if len(group) > 1:
            self._report(f"{where}: {len(group)} rows share this seq (inserted or duplicated rows)")
        for row in group:
            if row_hash(self.chain_id, seq, row.fields, row.prev_hash) != row.row_hash:
                self._report(f"{where}: row edited (its content does not match its hash)")
            if not gap and row.prev_hash not in self._prev_hashes:
                before = "the chain's start" if seq == 0 else f"row seq {seq - 1}"
                self._report(
                    f"{where}: prev_hash does not match {before} (a row was inserted, replaced or reordered)"
                )
        self._prev_hashes = {row.row_hash for row in group}
        self._expected = seq + 1
        if seq == self.head_seq and self.head_hash not in self._prev_hashes:
            self._report(f"{where}: row differs from the chain's head record (rewritten)")

    def finish(self) -> ChainSummary:
        """Compares the end of the chain with its head record; the summary of the walk. (A head seq
        between the first and last row fed but never fed itself lies in a gap already reported.)"""
        if self.head_seq is not None:
            if self.last_seq is None:
                self._missing(
                    0, self.head_seq, "every row deleted: the head record says the chain reaches it"
                )
            elif self.last_seq < self.head_seq:
                self._missing(
                    self.last_seq + 1,
                    self.head_seq,
                    "deleted at the end: the head record says the chain reaches it",
                )
        return ChainSummary(
            chain_id=self.chain_id,
            rows=self.rows,
            first_seq=self.first_seq,
            last_seq=self.last_seq,
            head_seq=self.head_seq,
            problems=self.found,
        )


def group_by_seq(rows: list[StoredRow]) -> list[list[StoredRow]]:
    """Consecutive rows sharing a seq (rows come sorted by seq)."""
    groups: list[list[StoredRow]] = []
    for row in rows:
        if groups and groups[-1][0].seq == row.seq:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups
