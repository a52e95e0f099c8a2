"""The live alert feed: `/v1/alerts/live` as a WebSocket, and as Server-Sent Events for simple clients.

Fed by the bus broadcast (`EventBroadcaster`), never by polling the store. Credentials come in the
`Authorization: Bearer` header or, since browsers cannot set headers on a WebSocket, the `token` query
parameter (the access log redacts it: api/access_log.py). A WebSocket is accepted, then closed with a
code when refused: 4401 not signed in (or a bad/expired credential), 4403 role without `alerts:read`,
4422 bad filters, 1013 live feed unavailable or full. The SSE route answers 401/403/422/503 instead.

Must be included before any `/v1/alerts/{event_id}` route, or `live` would be read as an event id.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection

from api.deps import ApiContext, ForbiddenError
from api.live_access import (
    CLOSE_BAD_REQUEST,
    CLOSE_TRY_AGAIN_LATER,
    LIVE_PERMISSION,
    LiveAccess,
    LiveRefusal,
    live_access,
)
from api.live_schemas import LiveParams
from api.live_services import LiveClient, LiveFullError, LiveHub, LiveUnavailableError
from api.principal import Principal
from api.schemas import ErrorOut

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

__all__ = ["LIVE_PERMISSION", "STREAMING_EXTENSION", "live_access", "router"]

#: OpenAPI extension marking routes that stream without end (tests must read only their status).
STREAMING_EXTENSION = "x-anfang-streaming"


def _hub(ctx: ApiContext) -> LiveHub:
    if ctx.live is None:
        raise LiveUnavailableError("the live feed is not enabled in this process (no event broadcaster)")
    return ctx.live


def _client_name(conn: HTTPConnection, principal: Principal, kind: str) -> str:
    host = f"{conn.client.host}:{conn.client.port}" if conn.client is not None else "?"
    return f"{kind} {principal.actor} from {host}"


@router.websocket("/live", name="alerts_live_websocket")
async def live_websocket(websocket: WebSocket, access: LiveAccess) -> None:
    """Alerts pushed as they happen: `hello`, then `event` frames and a `ping` every few seconds."""
    await websocket.accept()
    try:
        client = _open_websocket(websocket, access)
    except _RefusedError as refused:
        await websocket.close(refused.code, refused.reason[:120])
        return
    try:
        await websocket.send_text(client.hello())
        await _serve(websocket, client)
    except (WebSocketDisconnect, OSError):
        logger.debug("live %s: gone", client.name)
    finally:
        client.close()


class _RefusedError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _open_websocket(websocket: WebSocket, access: Principal | LiveRefusal) -> LiveClient:
    if isinstance(access, LiveRefusal):
        raise _RefusedError(access.code, access.reason)
    query = websocket.query_params
    raw = {k: query.getlist(k) if k == "type" else query[k] for k in query}
    try:
        params = LiveParams.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "query"
        raise _RefusedError(CLOSE_BAD_REQUEST, f"invalid {where}: {first['msg']}") from None
    try:
        ctx: ApiContext = websocket.app.state.ctx
        return _hub(ctx).open(access, params, _client_name(websocket, access, "websocket"))
    except (LiveUnavailableError, LiveFullError) as exc:
        raise _RefusedError(CLOSE_TRY_AGAIN_LATER, str(exc)) from None


async def _serve(websocket: WebSocket, client: LiveClient) -> None:
    """Sends until the client goes away (noticed by reading at the same time) or stops reading for
    `live_send_timeout_s` (a watchdog, not a timeout per send: those cost ~13 us each, x clients x events)."""
    config = websocket.app.state.ctx.config
    sending = _Sending()
    too_slow = False
    async with anyio.create_task_group() as tasks:

        async def receive() -> None:
            await _drain_incoming(websocket)
            tasks.cancel_scope.cancel()

        async def send() -> None:
            try:
                await _send_frames(websocket, client, config.live_ping_interval_s, sending)
            except (WebSocketDisconnect, OSError):  # gone before its close frame reached us
                tasks.cancel_scope.cancel()

        async def watch() -> None:
            nonlocal too_slow
            while not sending.stuck(config.live_send_timeout_s):
                await anyio.sleep(config.live_send_timeout_s / 4)
            too_slow = True
            tasks.cancel_scope.cancel()

        tasks.start_soon(receive)
        tasks.start_soon(send)
        tasks.start_soon(watch)
    if too_slow:
        logger.info("live %s: too slow to accept frames, disconnected", client.name)
        with anyio.move_on_after(1.0):  # the close waits for room to write too; else uvicorn drops the link
            await _close_quietly(websocket, CLOSE_TRY_AGAIN_LATER, "too slow: frames not accepted in time")


class _Sending:
    """When the current send began (None between sends)."""

    def __init__(self) -> None:
        self.since_s: float | None = None

    def stuck(self, timeout_s: float) -> bool:
        return self.since_s is not None and time.monotonic() - self.since_s > timeout_s


async def _send_frames(websocket: WebSocket, client: LiveClient, ping_s: float, sending: _Sending) -> None:
    """Sends frames (the events, or a ping when idle for `ping_s`) forever."""
    while True:
        frames = await client.next_frames(ping_s)
        sending.since_s = time.monotonic()
        for text in frames or [client.ping()]:
            await websocket.send_text(text)
        sending.since_s = None


async def _drain_incoming(websocket: WebSocket) -> None:
    """Reads (and ignores) what the client sends, until it disconnects."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
        await websocket.close(code, reason)


_SSE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "an endless text/event-stream: `event: hello|event|ping`, `data: <JSON frame>`",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    401: {"model": ErrorOut, "description": "not signed in, or a bad / expired credential"},
    403: {"model": ErrorOut, "description": "the role may not read alerts"},
    406: {"model": ErrorOut, "description": "the client does not accept text/event-stream"},
    503: {"model": ErrorOut, "description": "no live feed in this process, or too many live clients"},
}


@router.get(
    "/live",
    name="alerts_live_sse",
    response_class=EventSourceResponse,
    responses=_SSE_RESPONSES,
    openapi_extra={STREAMING_EXTENSION: True},
)
async def live_events(
    params: Annotated[LiveParams, Query()], access: LiveAccess, request: Request
) -> EventSourceResponse:
    """The live feed as Server-Sent Events (the WebSocket's frames; ends only when the client leaves)."""
    if isinstance(access, LiveRefusal):  # not reached over HTTP (the check raises), kept for the type
        raise ForbiddenError(access.reason)
    accept = request.headers.get("accept", "*/*")
    if not any(t in accept for t in ("text/event-stream", "*/*", "text/*")):
        raise NotAcceptableError("this route answers text/event-stream (Server-Sent Events) only")
    ctx: ApiContext = request.app.state.ctx
    client = _hub(ctx).open(access, params, _client_name(request, access, "sse"))
    return EventSourceResponse(
        _sse_frames(client, ctx.config.live_ping_interval_s),
        ping=0,  # no comment pings: the stream sends its own `ping` frames
        send_timeout=ctx.config.live_send_timeout_s,
        background=BackgroundTask(client.close),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class NotAcceptableError(ValueError):
    """The client's Accept header excludes text/event-stream (-> 406)."""


async def _sse_frames(client: LiveClient, ping_interval_s: float) -> AsyncIterator[ServerSentEvent]:
    try:
        yield ServerSentEvent(data=client.hello(), event="hello")
        while True:
            frames = await client.next_frames(ping_interval_s)
            if not frames:
                yield ServerSentEvent(data=client.ping(), event="ping")
            for text in frames:
                yield ServerSentEvent(data=text, event="event")
    finally:
        client.close()


#: Service failures of these routes and their HTTP status (registered by create_app).
ERROR_STATUS: dict[type[Exception], int] = {
    LiveUnavailableError: 503,
    LiveFullError: 503,
    NotAcceptableError: 406,
}
