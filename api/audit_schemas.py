"""Request and response models of `/v1/audit` (the audit trail for auditors and admins).

The page cursor is opaque to clients: URL-safe base64 of `[ts_ms, chain_id, seq]` of the page's
last row (`encode_cursor` / `decode_cursor`).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.audit import AuditCursor, AuditRow, AuditVerification, ChainSummary

#: Largest epoch ms / seq a filter or cursor may carry (ClickHouse Int64).
INT64_MAX = 2**63 - 1
_TEXT_MAX = 500
_CURSOR_MAX_CHARS = 400


class InvalidCursorError(ValueError):
    """A cursor that was not produced by this API (-> 422)."""


def encode_cursor(cursor: AuditCursor) -> str:
    raw = json.dumps([cursor.ts_ms, cursor.chain_id, cursor.seq], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> AuditCursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        ts_ms, chain_id, seq = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidCursorError("cursor is not one this API returned (take next_cursor as is)") from None
    ints_ok = all(type(v) is int and 0 <= v <= INT64_MAX for v in (ts_ms, seq))
    if not ints_ok or not isinstance(chain_id, str) or not chain_id:
        raise InvalidCursorError("cursor is not one this API returned (take next_cursor as is)")
    return AuditCursor(ts_ms=ts_ms, chain_id=chain_id, seq=seq)


class AuditListParams(BaseModel):
    """Filters of `/v1/audit` (ANDed), newest first. Unknown parameters are a 422."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: str | None = Field(
        default=None, min_length=1, max_length=_TEXT_MAX, description="username, `key:<id>` or `cli:<user>`"
    )
    action: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="repeatable: action=auth.login&action=export (dotted verbs)",
    )
    target: str | None = Field(
        default=None, min_length=1, max_length=_TEXT_MAX, description="exactly this target, e.g. camera:lobby"
    )
    outcome: Literal["ok", "denied", "failed"] | None = None
    since_ms: int | None = Field(default=None, ge=0, le=INT64_MAX, description="UTC epoch ms, inclusive")
    until_ms: int | None = Field(default=None, ge=0, le=INT64_MAX, description="UTC epoch ms, inclusive")
    limit: int | None = Field(default=None, ge=1, description="page size (default and maximum are settings)")
    cursor: str | None = Field(
        default=None, max_length=_CURSOR_MAX_CHARS, description="`next_cursor` of the previous page"
    )

    @model_validator(mode="after")
    def _check(self) -> AuditListParams:
        if self.since_ms is not None and self.until_ms is not None and self.since_ms > self.until_ms:
            raise ValueError(f"since_ms ({self.since_ms}) is after until_ms ({self.until_ms})")
        if any(not a or len(a) > _TEXT_MAX for a in self.action):
            raise ValueError(f"each action must be 1..{_TEXT_MAX} characters")
        return self


class AuditRowOut(BaseModel):
    seq: int = Field(ge=0, description="the row's place in its chain")
    ts_ms: int = Field(description="UTC epoch ms when it happened")
    actor: str
    role: str
    action: str
    target: str
    source: str = Field(description="client address, or `cli`")
    outcome: str = Field(description="ok, denied or failed")
    purpose: str = Field(description="stated purpose where personal data was touched")
    detail: str
    chain_id: str = Field(description="the writer process's chain")

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditRowOut:
        r = row.record
        return cls(
            seq=row.seq,
            ts_ms=r.ts_ms,
            actor=r.actor,
            role=r.role,
            action=r.action,
            target=r.target,
            source=r.source,
            outcome=r.outcome,
            purpose=r.purpose,
            detail=r.detail,
            chain_id=row.chain_id,
        )


class AuditPageOut(BaseModel):
    items: list[AuditRowOut]
    limit: int = Field(ge=1)
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class AuditChainOut(BaseModel):
    chain_id: str
    rows: int = Field(ge=0, description="rows read")
    first_seq: int | None
    last_seq: int | None
    head_seq: int | None = Field(description="the seq the chain's head record names (null: none)")
    problems: int = Field(ge=0)

    @classmethod
    def from_summary(cls, s: ChainSummary) -> AuditChainOut:
        return cls(
            chain_id=s.chain_id,
            rows=s.rows,
            first_seq=s.first_seq,
            last_seq=s.last_seq,
            head_seq=s.head_seq,
            problems=s.problems,
        )


class AuditVerifyOut(BaseModel):
    ok: bool = Field(description="true when every chain is intact")
    rows: int = Field(ge=0, description="rows checked")
    problems: list[str] = Field(description="each finding, naming chain and seq")
    chains: list[AuditChainOut] = Field(default_factory=list)

    @classmethod
    def from_verification(cls, v: AuditVerification) -> AuditVerifyOut:
        return cls(
            ok=v.ok,
            rows=v.rows,
            problems=list(v.problems),
            chains=[AuditChainOut.from_summary(c) for c in v.chains],
        )
