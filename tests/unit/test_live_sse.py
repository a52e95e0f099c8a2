"""The live feed as Server-Sent Events (`GET /v1/alerts/live`), and the token kept out of the logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.access_log import TokenRedactingFilter, install_token_redaction, redact_query_secrets
from api.routes.live import STREAMING_EXTENSION
from events.bus.broadcast import EventBroadcaster
from tests.unit.events_samples import build_event
from tests.unit.test_live_ws import make_app

T0_MS = 1_795_000_000_000
URL = "/v1/alerts/live"


@pytest.fixture
def broadcaster() -> EventBroadcaster:
    return EventBroadcaster()


@pytest.fixture
def client(tmp_path: Path, broadcaster: EventBroadcaster) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path, broadcaster)) as c:
        yield c


def sse_frames(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) of each SSE message."""
    name, data = "message", ""
    for line in lines:
        if line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()
        elif not line.strip() and data:
            yield name, json.loads(data)
            name, data = "message", ""


def next_named(
    frames: Iterator[tuple[str, dict[str, Any]]], wanted: str, within_s: float = 5.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    for name, data in frames:  # pings every 50 ms: never waits long
        if name == wanted:
            assert data["kind"] == wanted
            return data
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"no {wanted} message within {within_s} s")


@pytest.mark.parametrize(
    ("query", "headers"),
    [("?token=operator@cam-a", {}), ("", {"Authorization": "Bearer operator@cam-a"})],
)
def test_sse_streams_hello_then_the_alerts_in_scope(
    client: TestClient, broadcaster: EventBroadcaster, query: str, headers: dict[str, str]
) -> None:
    headers = {"Accept": "text/event-stream", **headers}
    with client.stream("GET", URL + query, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = sse_frames(response.iter_lines())
        assert next_named(frames, "hello")["filters"]["alerts_only"] is True
        broadcaster.publish(build_event(ts_ms=T0_MS, camera_id="cam-b"))  # out of scope: never sent
        sent = build_event(ts_ms=T0_MS + 1, camera_id="cam-a")
        broadcaster.publish(sent)
        got = next_named(frames, "event")["event"]
        assert got["event_id"] == str(sent.event_id) and got["state"]["status"] == "new"
        assert next_named(frames, "ping")["dropped"] == 0
    deadline = time.monotonic() + 5
    while (
        broadcaster.subscribers and time.monotonic() < deadline
    ):  # the client left: so does its subscription
        time.sleep(0.01)
    assert broadcaster.subscribers == 0


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("", {}, 401),
        ("?token=forged", {}, 401),
        ("?token=integrator", {}, 403),
        ("?token=operator&type=Bad%20Type", {}, 422),
        ("?token=operator&unknown=1", {}, 422),
        ("?token=operator", {"Accept": "application/json"}, 406),
    ],
)
def test_sse_refusals_are_plain_http_errors(
    client: TestClient, query: str, headers: dict[str, str], status: int
) -> None:
    response = client.get(URL + query, headers=headers)
    assert response.status_code == status
    assert "forged" not in response.text
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_sse_without_a_broadcaster_or_beyond_the_limit_is_503(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, None)) as c:
        assert c.get(URL, headers={"Authorization": "Bearer operator"}).status_code == 503
    full = make_app(tmp_path, EventBroadcaster(), live_clients_max=1)
    with TestClient(full) as c, c.stream("GET", URL + "?token=operator") as first:
        assert first.status_code == 200
        next_named(sse_frames(first.iter_lines()), "hello")
        assert c.get(URL + "?token=operator").status_code == 503


def test_the_openapi_document_marks_the_stream_and_its_token_parameter(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][URL]["get"]
    assert operation[STREAMING_EXTENSION] is True
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"token", "camera_id", "type", "alerts_only"}


# --- the token never reaches the logs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/v1/alerts/live?token=eyJhbGci.x.y&type=fall", "/v1/alerts/live?token=***&type=fall"),
        ("/v1/alerts/live?camera_id=a&TOKEN=ak_1_s3cr3t", "/v1/alerts/live?camera_id=a&TOKEN=***"),
        ("/x?access_token=abc&refresh_token=def", "/x?access_token=***&refresh_token=***"),
        ('GET /v1/alerts/live?token=abc HTTP/1.1" 200', 'GET /v1/alerts/live?token=*** HTTP/1.1" 200'),
        ("/v1/alerts?tokens=1&mytoken=2", "/v1/alerts?tokens=1&mytoken=2"),
    ],
)
def test_token_like_query_parameters_are_redacted(text: str, expected: str) -> None:
    assert redact_query_secrets(text) == expected


def test_uvicorn_access_and_websocket_lines_lose_the_token(caplog: pytest.LogCaptureFixture) -> None:
    names = ("test.live.access", "test.live.error")
    install_token_redaction(names)
    install_token_redaction(names)  # idempotent
    access, error = (logging.getLogger(n) for n in names)
    assert sum(isinstance(f, TokenRedactingFilter) for f in access.filters) == 1
    with caplog.at_level(logging.INFO):
        # exactly how uvicorn logs: the path with its query string as an argument
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/v1/alerts/live?token=s3cr3t-jwt", "1.1", 200
        )
        error.info(
            '%s - "WebSocket %s" [accepted]', "127.0.0.1:6", "/v1/alerts/live?token=s3cr3t-jwt&type=fall"
        )
    assert "s3cr3t-jwt" not in caplog.text
    assert "/v1/alerts/live?token=*** HTTP/1.1" in caplog.text
    assert '"WebSocket /v1/alerts/live?token=***&type=fall" [accepted]' in caplog.text
    assert all(isinstance(r.args, tuple) and len(r.args) in (2, 5) for r in caplog.records)  # shape kept


def test_uvicorn_logs_no_token_from_a_real_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real uvicorn on a free port: its access and WebSocket lines (its own handlers, on stdout/stderr)."""
    import asyncio
    import threading

    import httpx
    import uvicorn
    import websockets

    app = make_app(tmp_path, EventBroadcaster())
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="info", lifespan="off")
    install_token_redaction()  # after uvicorn.Config: it configures logging in its constructor
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]

    async def visit() -> str:
        async with websockets.connect(f"ws://127.0.0.1:{port}{URL}?token=operator") as ws:
            return str(await ws.recv())

    hello = asyncio.run(visit())
    status = httpx.get(f"http://127.0.0.1:{port}/v1/alerts/live?token=operator&unknown=1").status_code
    server.should_exit = True
    thread.join(timeout=10)
    assert json.loads(hello)["kind"] == "hello" and status == 422
    out = capsys.readouterr()
    logged = out.out + out.err
    assert '"WebSocket /v1/alerts/live?token=***" [accepted]' in logged, logged
    assert '"GET /v1/alerts/live?token=***&unknown=1 HTTP/1.1" 422' in logged, logged
    assert "token=operator" not in logged
