"""What the routes of several resources (watchlists, faces, hotlists, evidence) share: auditing an
action with its outcome, paging within the configured limits, and the responses of their errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.deps import ConfigDep, RequestAudit
from api.principal import Principal

logger = logging.getLogger(__name__)

#: The most characters of an audit record's detail written from a refusal's message.
AUDIT_DETAIL_CHARS = 300

ErrorHandler = Callable[[Request, Exception], Awaitable[JSONResponse]]
T = TypeVar("T")


# --- auditing ------------------------------------------------------------------------------------


@dataclass(slots=True)
class AuditNote:
    """What the record of a succeeded action says: the route may name a new target (the record it
    created) and sets the detail."""

    target: str
    detail: str = ""


@contextmanager
def audit_action(
    audit: RequestAudit,
    action: str,
    target: str,
    *,
    actor: Principal,
    purpose: str,
    refusals: tuple[type[Exception], ...],
) -> Iterator[AuditNote]:
    """Audits the action either way: as failed (with the cause) when the body raises one of
    `refusals` (the service's own refusals, then raised on), else as done ("ok") with the target and
    detail of the note it yields."""
    note = AuditNote(target)
    try:
        yield note
    except refusals as exc:
        detail = str(exc)[:AUDIT_DETAIL_CHARS]
        audit.record(action, target, actor=actor, outcome="failed", purpose=purpose, detail=detail)
        raise
    audit.record(action, note.target, actor=actor, purpose=purpose, detail=note.detail)


def shortened(text: str, max_chars: int = AUDIT_DETAIL_CHARS) -> str:
    """The text, cut to `max_chars` with an ellipsis where it is longer."""
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


# --- paging --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    """A page of a list the route holds in full: `limit` items from `offset`."""

    limit: int
    offset: int

    def of(self, items: Sequence[T]) -> list[T]:
        return list(items[self.offset : self.offset + self.limit])

    def meta(self, total: int) -> dict[str, int]:
        """The fields of an `OffsetPageOut` for a list of `total` items."""
        return {"total": total, "limit": self.limit, "offset": self.offset}


def get_page(
    config: ConfigDep,
    limit: Annotated[
        int | None, Query(ge=1, description="items per page (default and maximum: settings)")
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page:
    """The page asked for; a limit over the `page_limit_max` setting is a 422 naming it."""
    size = config.page_limit_default if limit is None else limit
    if size > config.page_limit_max:
        msg = f"at most {config.page_limit_max}"
        raise RequestValidationError([{"type": "less_than_equal", "loc": ("query", "limit"), "msg": msg}])
    return Page(limit=size, offset=offset)


PageDep = Annotated[Page, Depends(get_page)]


# --- errors -> responses -------------------------------------------------------------------------


async def input_refused(request: Request, exc: Exception) -> JSONResponse:
    """A refusal of the input: 422 with its `errors` (shaped like FastAPI's validation errors), or 413
    where it says the input is `too_large`."""
    logger.info("%s %s: refused: %s", request.method, request.url.path, exc)
    if getattr(exc, "too_large", False):
        return JSONResponse({"detail": str(exc)}, status_code=413)
    return JSONResponse({"detail": getattr(exc, "errors", [])}, status_code=422)


def plain_error(status: int) -> ErrorHandler:
    """The error's message with `status` (logged as a warning when it is a 5xx)."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        if status >= 500:
            logger.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler
