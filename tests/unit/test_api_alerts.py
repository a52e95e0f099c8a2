"""/v1/alerts: only alert=true events, newest first, snapshot_url where evidence exists; counts by type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from anfang.wiring import event_types_for_api
from api.app import create_app
from events.schema import Event
from pipelines.event_kinds import EVENT_KINDS
from tests.unit.api_fakes import T0_MS, FakeEventStore, attach_snapshot, make_event


def seed(data_dir: Path) -> list[Event]:
    """10 events over 2 cameras; every 3rd is not an alert; even ones carry a snapshot file."""
    events = []
    for i in range(10):
        event = make_event(
            ts_ms=T0_MS + i * 60_000,
            camera_id=f"cam-{i % 2 + 1}",
            event_type="line_crossing" if i % 5 == 0 else "zone_intrusion",
            alert=i % 3 != 0,
            track_id=i,
        )
        if i % 2 == 0:
            event, _ = attach_snapshot(data_dir, event, seed=i)
        events.append(event)
    return events


@pytest.fixture
def events(tmp_path: Path) -> list[Event]:
    return seed(tmp_path)


@pytest.fixture
def store(events: list[Event]) -> FakeEventStore:
    return FakeEventStore(events)


@pytest.fixture
def client(store: FakeEventStore, tmp_path: Path) -> TestClient:
    return TestClient(create_app(store, tmp_path, event_types=event_types_for_api()))


CASES: list[tuple[dict[str, Any], str | None]] = [
    ({}, None),
    ({"camera_id": "cam-2"}, "cam-2"),
    ({"type": "line_crossing"}, None),
    ({"limit": 2}, None),
]


@pytest.mark.parametrize(("params", "camera"), CASES)
def test_only_alerts_newest_first(
    client: TestClient, store: FakeEventStore, events: list[Event], params: dict[str, Any], camera: str | None
) -> None:
    r = client.get("/v1/alerts", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    wanted_type = params.get("type")
    expected = [
        e
        for e in sorted(events, key=lambda e: e.ts_ms, reverse=True)
        if e.alert
        and (camera is None or e.camera_id == camera)
        and (wanted_type is None or e.type == wanted_type)
    ]
    limit = params.get("limit", 50)
    assert [i["event_id"] for i in body["items"]] == [str(e.event_id) for e in expected[:limit]]
    assert all(i["alert"] is True for i in body["items"])
    assert body["total"] == len(expected)
    assert body["next_offset"] == (limit if len(expected) > limit else None)
    assert store.queries[-1].alerts_only is True


def test_snapshot_url_only_where_a_snapshot_exists(client: TestClient, events: list[Event]) -> None:
    items = client.get("/v1/alerts").json()["items"]
    by_id = {str(e.event_id): e for e in events}
    assert any(i["snapshot_url"] for i in items) and any(i["snapshot_url"] is None for i in items)
    for item in items:
        event = by_id[item["event_id"]]
        if event.snapshot is None:
            assert item["snapshot_url"] is None
        else:
            assert item["snapshot_url"] == f"/v1/events/{event.event_id}/snapshot"
            assert client.get(item["snapshot_url"]).status_code == 200


@pytest.mark.parametrize(
    "params",
    [{}, {"camera_id": "cam-1"}, {"since_ms": T0_MS + 3 * 60_000, "until_ms": T0_MS + 8 * 60_000}],
)
def test_counts_by_type(client: TestClient, events: list[Event], params: dict[str, Any]) -> None:
    r = client.get("/v1/alerts/counts", params=params)
    assert r.status_code == 200, r.text
    lo, hi = params.get("since_ms", 0), params.get("until_ms", 2**63)
    alerts = [
        e
        for e in events
        if e.alert and e.camera_id == params.get("camera_id", e.camera_id) and lo <= e.ts_ms <= hi
    ]
    expected = {k.event_type: sum(1 for e in alerts if e.type == k.event_type) for k in EVENT_KINDS}
    assert r.json() == {"by_type": expected, "total": len(alerts)}


def test_counts_reject_list_parameters(client: TestClient) -> None:
    r = client.get("/v1/alerts/counts", params={"limit": 5})
    assert r.status_code == 422
    assert "Extra inputs are not permitted" in r.text
