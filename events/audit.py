"""The audit trail's record and the port it is appended through.

Every sign-in (success and failure), user/key change, camera/rule/sensor change, alert action,
export and snapshot view becomes one `AuditRecord`. The store keeps them append-only in `audit_log`,
each row carrying the hash of the previous one (see events/store/audit_sql.py), so an edited or
deleted row is detected by `anfang audit verify`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

AuditOutcome = Literal["ok", "denied", "failed"]


class AuditRecord(BaseModel):
    """One thing somebody did (or tried to do)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ts_ms: int = Field(ge=0, description="UTC epoch ms when it happened")
    actor: str = Field(description="username, `key:<key id>`, `cli:<os user>` or `anonymous`")
    role: str = Field(default="", description="the actor's role then ('' when not signed in)")
    action: str = Field(
        min_length=1, description="dotted verb, e.g. auth.login, user.create, alert.acknowledge"
    )
    target: str = Field(default="", description="what it touched, e.g. camera:lobby, event:<uuid>")
    source: str = Field(default="", description="client address, or `cli`")
    outcome: AuditOutcome = "ok"
    purpose: str = Field(default="", description="stated purpose where personal data is touched")
    detail: str = Field(default="", description="short, never a secret")


class AuditSink(Protocol):
    def append(self, record: AuditRecord) -> None:
        """Appends one record to the trail; raises `StoreError` when it cannot be stored."""
        ...


# --- reading and verifying the trail ---------------------------------------------------------------

#: How a chain starts: the `prev_hash` of every chain's row 0.
GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRow:
    """A stored record with its place in its chain: `seq` 0, 1, 2, ... per `chain_id`; `row_hash` is
    the SHA-256 (hex) of the row's canonical form, `prev_hash` that of the row before (see audit_sql)."""

    record: AuditRecord
    chain_id: str
    seq: int
    prev_hash: str
    row_hash: str


@dataclass(frozen=True, slots=True)
class AuditCursor:
    """Where a page ended: the next page holds rows strictly older in the order
    (ts_ms, chain_id, seq) descending. Stable while rows are appended."""

    ts_ms: int
    chain_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of the trail (all ANDed; time window inclusive), newest first."""

    actor: str | None = None
    actions: Sequence[str] = ()
    target: str | None = None
    outcome: AuditOutcome | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    chain_id: str | None = None
    limit: int = 100
    after: AuditCursor | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditRow]
    next_cursor: AuditCursor | None = None  # None on the last page


@dataclass(frozen=True, slots=True)
class ChainSummary:
    """What verification saw of one chain: rows read, the seq range, the recorded head."""

    chain_id: str
    rows: int
    first_seq: int | None
    last_seq: int | None
    head_seq: int | None  # the head record's seq (None: no head record)
    problems: int


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """`ok` when every chain links up and matches its head; `problems` name chain and seq."""

    ok: bool
    rows: int
    problems: list[str] = field(default_factory=list)
    chains: list[ChainSummary] = field(default_factory=list)


class AuditInvalidQueryError(ValueError):
    """An AuditQuery the log refuses before asking the database (bad limit or window)."""


class AuditLogReader(Protocol):
    """The trail as auditors see it: filtered pages and the integrity check."""

    def query(self, q: AuditQuery) -> AuditPage:
        """Newest first; raises `AuditInvalidQueryError` or `StoreError`."""
        ...

    def verify(self) -> AuditVerification:
        """Re-reads every chain and checks its hashes, links and head; raises `StoreError`."""
        ...
