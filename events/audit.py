"""The audit trail's record and the port it is appended through.

Every sign-in (success and failure), user/key change, camera/rule/sensor change, alert action,
export and snapshot view becomes one `AuditRecord`. The store keeps them append-only in `audit_log`,
each row carrying the hash of the previous one (see events/store/audit_sql.py), so an edited or
deleted row is detected by `anfang audit verify`.
"""

from __future__ import annotations

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
