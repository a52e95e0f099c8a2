"""Bases of the bodies of the list routes (face watchlists, plate hotlists): requests refusing unknown
fields, changes (PATCH) that send only what changes with a `purpose` saying why, versioned records as
answered, and pages of a list."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from events.records import Versioned


class InBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PatchIn(InBody):
    """The fields to change; `purpose` (declared by each subclass) is why (audited), not a new purpose."""

    #: Fields for which an explicit null means something (remove the value).
    CLEARABLE: ClassVar[frozenset[str]] = frozenset({"expires_ts_ms"})

    def changes(self) -> dict[str, Any]:
        """The fields the client sent (an explicit null only for the clearable ones), by name."""
        sent = self.model_fields_set - {"purpose"}
        return {
            name: getattr(self, name)
            for name in sorted(sent)
            if getattr(self, name) is not None or name in self.CLEARABLE
        }

    def changes_text(self) -> str:
        """The changes as `name=value, ...` (for the audit trail), or "nothing changed"."""
        return ", ".join(f"{k}={v}" for k, v in self.changes().items()) or "nothing changed"


class VersionedOut(BaseModel):
    """A versioned record as answered: its own id (the field `ID_FIELD`) as `id`, and its stamps."""

    ID_FIELD: ClassVar[str]

    id: str
    expires_ts_ms: int | None
    created_by: str
    created_ts_ms: int
    updated_ts_ms: int
    version: int

    @classmethod
    def fields_of(cls, record: Versioned) -> dict[str, Any]:
        data = record.model_dump()
        return {"id": data.pop(cls.ID_FIELD), **data}


class OffsetPageOut(BaseModel):
    """Where a page lies in the whole list."""

    total: int
    limit: int
    offset: int
