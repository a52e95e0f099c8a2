"""The bases of the stored records that workers are sent changes of (face watchlists and identities,
plate hotlists and their entries): frozen pydantic models refusing unknown fields, an optional expiry,
and for the versioned ones (kept as rows of which the latest version wins) who made them, when, and the
version."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Expiring(Record):
    """A record that may expire (UTC epoch ms; None: never)."""

    expires_ts_ms: int | None = Field(default=None, ge=0)

    def expired(self, now_ms: int) -> bool:
        return self.expires_ts_ms is not None and self.expires_ts_ms <= now_ms


class Versioned(Expiring):
    """A record kept as versioned rows (latest wins), with an optional expiry."""

    created_by: str = ""
    created_ts_ms: int = Field(ge=0)
    updated_ts_ms: int = Field(ge=0)
    version: int = Field(default=1, ge=1)
