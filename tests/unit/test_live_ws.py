"""The live feed over WebSocket (`/v1/alerts/live`): credentials, roles, scope, filters, limits, frames."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from api.config import ApiConfig
from api.principal import Permission
from api.routes.live import LIVE_PERMISSION, live_access
from events.bus.broadcast import EventBroadcaster
from events.schema import Event
from tests.unit.api_fakes import FakeAuthenticator, FakeEventStore, ListAuditSink
from tests.unit.events_samples import build_event

T0_MS = 1_795_000_000_000
PING_S = 0.05
ZI, LC = "zone_intrusion", "line_crossing"


def make_app(
    tmp_path: Path, broadcaster: EventBroadcaster | None, audit: ListAuditSink | None = None, **config: Any
) -> FastAPI:
    return create_app(
        FakeEventStore(),
        tmp_path,
        config=ApiConfig(live_ping_interval_s=PING_S, **config),
        authenticator=FakeAuthenticator(),
        audit=audit or ListAuditSink(),
        broadcaster=broadcaster,
    )


@pytest.fixture
def broadcaster() -> EventBroadcaster:
    return EventBroadcaster()


@pytest.fixture
def client(tmp_path: Path, broadcaster: EventBroadcaster) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path, broadcaster)) as c:
        yield c


def event(i: int = 0, **fields: Any) -> Event:
    return build_event(ts_ms=T0_MS + i, track_id=i, **fields)


def next_of_kind(ws: WebSocketTestSession, kind: str, within_s: float = 5.0) -> dict[str, Any]:
    """The next frame of `kind`, skipping the others (pings arrive every PING_S, so this never hangs)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        frame: dict[str, Any] = ws.receive_json()
        if frame["kind"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame within {within_s} s")


def close_code(client: TestClient, url: str, **kwargs: Any) -> int:
    with client.websocket_connect(url, **kwargs) as ws, pytest.raises(WebSocketDisconnect) as refused:
        ws.receive_json()
    return refused.value.code


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/v1/alerts/live?token=operator", {}),
        ("/v1/alerts/live", {"Authorization": "Bearer operator"}),
        ("/v1/alerts/live?token=auditor", {}),
        ("/v1/alerts/live?token=admin", {}),
    ],
)
def test_a_published_alert_arrives_by_token_in_query_or_header(
    client: TestClient, broadcaster: EventBroadcaster, url: str, headers: dict[str, str]
) -> None:
    with client.websocket_connect(url, headers=headers) as ws:
        hello = ws.receive_json()
        assert hello == {"kind": "hello", "filters": {"camera_id": None, "type": [], "alerts_only": True}}
        sent = event(1)
        assert broadcaster.publish(sent) == 1
        got = next_of_kind(ws, "event")["event"]
    assert got["event_id"] == str(sent.event_id)
    assert got["camera_id"] == sent.camera_id and got["type"] == sent.type
    assert got["state"] == {
        "status": "new",
        "assignee": None,
        "resolution": None,
        "escalation_level": 0,
        "version": 0,
        "updated_by": None,
        "updated_ts_ms": None,
    }
    assert got["sop"] == "" and "snapshot_url" in got
    assert broadcaster.subscribers == 0  # the subscription ends with the connection


@pytest.mark.parametrize(
    ("url", "headers", "code"),
    [
        ("/v1/alerts/live", {}, 4401),
        ("/v1/alerts/live?token=forged", {}, 4401),
        ("/v1/alerts/live", {"Authorization": "Bearer forged"}, 4401),
        ("/v1/alerts/live?token=operator", {"Authorization": "Basic b3A6cHc="}, 4401),  # the header wins
        ("/v1/alerts/live?token=integrator", {}, 4403),
        ("/v1/alerts/live?token=operator&type=Not%20A%20Type", {}, 4422),
        ("/v1/alerts/live?token=operator&camera=typo", {}, 4422),
        ("/v1/alerts/live?token=operator&alerts_only=maybe", {}, 4422),
    ],
)
def test_refusals_close_with_a_code_the_browser_sees(
    client: TestClient, url: str, headers: dict[str, str], code: int
) -> None:
    assert close_code(client, url, headers=headers) == code


def test_a_wrong_role_is_audited_as_a_denial(tmp_path: Path, broadcaster: EventBroadcaster) -> None:
    audit = ListAuditSink()
    with TestClient(make_app(tmp_path, broadcaster, audit)) as c:
        assert close_code(c, "/v1/alerts/live?token=integrator") == 4403
    [record] = audit.records
    assert (record.action, record.outcome, record.actor) == ("access.denied", "denied", "test-integrator")
    assert "alerts:read" in record.detail and "integrator" not in record.target


def test_the_permission_is_declared_for_the_rbac_matrix() -> None:
    assert LIVE_PERMISSION == Permission.ALERTS_READ
    assert live_access.permissions == frozenset({Permission.ALERTS_READ})


@pytest.mark.parametrize(
    ("credential", "query", "published", "expected"),
    [
        # scope: a cam-a operator never gets cam-b, asking for cam-b is like asking for an unknown camera
        ("operator@cam-a", "", [("cam-b", ZI, True), ("cam-a", ZI, True)], ["cam-a"]),
        ("operator@cam-a", "&camera_id=cam-b", [("cam-b", ZI, True)], []),
        ("operator@site:north", "", [("cam-x", ZI, True)], []),
        ("operator", "&camera_id=cam-b", [("cam-a", ZI, True), ("cam-b", ZI, True)], ["cam-b"]),
        # types, repeatable
        ("operator", "&type=line_crossing", [("cam-a", ZI, True), ("cam-b", LC, True)], ["cam-b"]),
        ("operator", "&type=line_crossing&type=zone_intrusion", [("cam-a", ZI, True)], ["cam-a"]),
        # alerts only by default
        ("operator", "", [("cam-a", ZI, False), ("cam-b", ZI, True)], ["cam-b"]),
        ("operator", "&alerts_only=false", [("cam-a", ZI, False)], ["cam-a"]),
    ],
)
def test_scope_and_filters_decide_what_is_sent(
    client: TestClient,
    broadcaster: EventBroadcaster,
    credential: str,
    query: str,
    published: list[tuple[str, str, bool]],
    expected: list[str],
) -> None:
    with client.websocket_connect(f"/v1/alerts/live?token={credential}{query}") as ws:
        next_of_kind(ws, "hello")
        taken = [
            broadcaster.publish(event(i, camera_id=c, event_type=t, alert=a))
            for i, (c, t, a) in enumerate(published)
        ]
        assert sum(taken) == len(expected)  # filtered before queueing: nothing else is even queued
        got = [next_of_kind(ws, "event")["event"]["camera_id"] for _ in expected]
    assert got == expected


def test_the_hello_frame_echoes_the_filters(client: TestClient) -> None:
    url = "/v1/alerts/live?token=operator&camera_id=gate&type=fall&type=fire&alerts_only=false"
    with client.websocket_connect(url) as ws:
        assert ws.receive_json()["filters"] == {
            "camera_id": "gate",
            "type": ["fall", "fire"],
            "alerts_only": False,
        }


def test_keepalive_pings_report_the_events_dropped_for_a_slow_client(tmp_path: Path) -> None:
    broadcaster = EventBroadcaster()
    with (
        TestClient(make_app(tmp_path, broadcaster, live_queue_max=2)) as c,
        c.websocket_connect("/v1/alerts/live?token=operator") as ws,
    ):
        next_of_kind(ws, "hello")
        ping = next_of_kind(ws, "ping")
        assert ping["dropped"] == 0 and abs(ping["ts_ms"] - time.time() * 1000) < 60_000
        # published on the server's event loop thread, so the client's sender cannot drain in between:
        # 5 events into a queue of 2, the oldest 3 must go
        ws.portal.call(lambda: [broadcaster.publish(event(i)) for i in range(5)])
        received = [next_of_kind(ws, "event")["event"]["ts_ms"] for _ in range(2)]
        assert received == [T0_MS + 3, T0_MS + 4]
        assert next_of_kind(ws, "ping")["dropped"] == 3


def test_clients_beyond_the_limit_are_told_to_come_back_later(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, EventBroadcaster(), live_clients_max=1)) as c:
        with c.websocket_connect("/v1/alerts/live?token=operator") as first:
            next_of_kind(first, "hello")
            assert close_code(c, "/v1/alerts/live?token=operator") == 1013
        with c.websocket_connect("/v1/alerts/live?token=operator") as again:  # the slot was given back
            assert next_of_kind(again, "hello")["kind"] == "hello"


def test_without_a_broadcaster_the_feed_is_unavailable(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, None)) as c:
        assert close_code(c, "/v1/alerts/live?token=operator") == 1013
        assert close_code(c, "/v1/alerts/live?token=forged") == 4401
