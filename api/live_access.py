"""Who may open the live feed: the credential from the `Authorization: Bearer` header or, since browsers
cannot set headers on a WebSocket, from the `token` query parameter (the header wins when both come).

`live_access` is a `PermissionCheck` (so the RBAC matrix reads its permission like any route's): on
HTTP (SSE) it raises like `require` (401 / 403 / 503); on a WebSocket it returns a `LiveRefusal` so the
endpoint can accept and then close with a code a browser sees (a close before accept is an HTTP 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from api.deps import (
    ApiContext,
    AuthUnavailableError,
    ForbiddenError,
    PermissionCheck,
    RequestAudit,
    authenticate,
    bearer_credential,
    client_address,
)
from api.principal import AuthenticationError, Permission, Principal

#: WebSocket close codes (4000-4999 are the application's own).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_REQUEST = 4422
CLOSE_TRY_AGAIN_LATER = 1013
#: What the live feed (both routes) requires; the RBAC matrix reads it from `live_access.permissions`.
LIVE_PERMISSION = Permission.ALERTS_READ


@dataclass(frozen=True, slots=True)
class LiveRefusal:
    """Why a WebSocket is refused: the close code and a reason (never the credential)."""

    code: int
    reason: str


class LiveAccessCheck(PermissionCheck):
    """`require(...)` for the live feed: credential from the header or the `token` query parameter.

    On HTTP (SSE) it raises like `require` (401 / 403 / 503); on a WebSocket it returns a `LiveRefusal`
    so the endpoint can accept and close with a code the browser sees.
    """

    def __call__(self, conn: HTTPConnection) -> Principal | LiveRefusal:  # type: ignore[override]
        ctx = conn.app.state.ctx
        if not isinstance(ctx, ApiContext):
            raise RuntimeError("app.state.ctx is not set: build the app with api.app.create_app")
        http = conn.scope["type"] == "http"
        try:
            principal = authenticate(ctx, _credential(conn))
        except AuthenticationError as exc:
            if http:
                raise
            return LiveRefusal(CLOSE_UNAUTHENTICATED, str(exc))
        except AuthUnavailableError as exc:
            if http:
                raise
            return LiveRefusal(CLOSE_TRY_AGAIN_LATER, str(exc))
        conn.state.principal = principal
        audit = RequestAudit(sink=ctx.audit, source=client_address(conn))
        message = self.refusal(principal, audit, f"{'GET' if http else 'WEBSOCKET'} {conn.url.path}")
        if message is None:
            return principal
        if http:
            raise ForbiddenError(message)
        return LiveRefusal(CLOSE_FORBIDDEN, message)


def _credential(conn: HTTPConnection) -> str:
    header = conn.headers.get("authorization")
    if header is None and conn.query_params.get("token"):
        return conn.query_params["token"]
    return bearer_credential(header)


live_access = LiveAccessCheck(LIVE_PERMISSION)
LiveAccess = Annotated[Principal | LiveRefusal, Depends(live_access)]
