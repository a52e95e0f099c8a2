"""The audit trail for auditors and admins: filtered pages and the integrity check.

Reading the trail is not itself audited (each read would add rows to what is being read); exports
of it would be. The trail spans every camera, so a camera-scoped reader sees only the rows of its
own actions: the others could name cameras outside its scope.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from api.audit_schemas import (
    AuditListParams,
    AuditPageOut,
    AuditRowOut,
    AuditVerifyOut,
    InvalidCursorError,
    decode_cursor,
    encode_cursor,
)
from api.deps import ConfigDep, ContextDep, require
from api.principal import Permission, Principal
from api.schemas import ErrorOut
from events.audit import AuditInvalidQueryError, AuditLogReader, AuditPage, AuditQuery

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditLogUnavailableError(RuntimeError):
    """This process has no audit log to read (-> 503)."""


#: Errors of this router and their HTTP status, for `create_app` to register.
ERROR_STATUS: dict[type[Exception], int] = {AuditLogUnavailableError: 503}

_UNAVAILABLE = {"model": ErrorOut, "description": "no audit log in this process, or the store failed"}

Auditor = Annotated[Principal, require(Permission.AUDIT_READ)]


def get_audit_log(ctx: ContextDep) -> AuditLogReader:
    if ctx.audit_log is None:
        raise AuditLogUnavailableError("the audit trail cannot be read in this process (no audit log)")
    return ctx.audit_log


AuditLogDep = Annotated[AuditLogReader, Depends(get_audit_log)]


def _invalid(name: str, message: str, value: object) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


def build_query(params: AuditListParams, limit: int, user: Principal) -> AuditQuery | None:
    """The log query for these parameters, or None when the caller may see nothing of it."""
    actor = params.actor
    if not user.scope.unrestricted:
        if actor is not None and actor != user.actor:
            return None
        actor = user.actor
    try:
        after = None if params.cursor is None else decode_cursor(params.cursor)
    except InvalidCursorError as exc:
        raise _invalid("cursor", str(exc), params.cursor) from None
    return AuditQuery(
        actor=actor,
        actions=tuple(params.action),
        target=params.target,
        outcome=params.outcome,
        since_ms=params.since_ms,
        until_ms=params.until_ms,
        limit=limit,
        after=after,
    )


@router.get("", response_model=AuditPageOut, responses={503: _UNAVAILABLE})
def list_audit(
    params: Annotated[AuditListParams, Query()], user: Auditor, log: AuditLogDep, config: ConfigDep
) -> AuditPageOut:
    """Audit rows newest first (ties by chain and seq), filtered by actor, action(s), target, outcome
    and time window; page on with `next_cursor` (stable while rows are appended)."""
    limit = config.page_limit_default if params.limit is None else params.limit
    if limit > config.page_limit_max:
        raise _invalid("limit", f"Input should be less than or equal to {config.page_limit_max}", limit)
    q = build_query(params, limit, user)
    try:
        page = AuditPage(rows=[]) if q is None else log.query(q)
    except AuditInvalidQueryError as exc:
        raise _invalid("limit", str(exc), limit) from None
    cursor = None if page.next_cursor is None else encode_cursor(page.next_cursor)
    return AuditPageOut(items=[AuditRowOut.from_row(r) for r in page.rows], limit=limit, next_cursor=cursor)


@router.get("/verify", response_model=AuditVerifyOut, responses={503: _UNAVAILABLE})
def verify_audit(user: Auditor, log: AuditLogDep) -> AuditVerifyOut:
    """Re-reads every chain of the trail and checks each row's hash, its link to the row before and
    the chain's recorded head: `ok` false and `problems` naming chain and seq when a row was edited,
    deleted, inserted or reordered (what `anfang audit verify` prints)."""
    result = log.verify()
    if not result.ok:
        logger.warning("audit trail verification by %s found %d problem(s)", user.actor, len(result.problems))
    return AuditVerifyOut.from_verification(result)
