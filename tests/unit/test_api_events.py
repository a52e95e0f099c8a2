"""/v1/events: filters reach the store, pages chain through next_offset, bad parameters are 422."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig
from events.schema import Event
from tests.unit.api_fakes import T0_MS, FakeEventStore, attach_snapshot, make_event

N_EVENTS = 12


def _iso(ts_ms: int, offset_h: int = 0) -> str:
    tz = timezone(timedelta(hours=offset_h))
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(tz).isoformat()


def seed_events() -> list[Event]:
    return [
        make_event(
            ts_ms=T0_MS + i * 1000,
            camera_id="cam-2" if i % 3 == 0 else "cam-1",
            event_type="zone_intrusion" if i % 2 == 0 else "line_crossing",
            alert=i % 4 != 0,
            track_id=i,
        )
        for i in range(N_EVENTS)
    ]


@pytest.fixture
def events() -> list[Event]:
    return seed_events()


@pytest.fixture
def store(events: list[Event]) -> FakeEventStore:
    return FakeEventStore(events)


@pytest.fixture
def client(store: FakeEventStore, tmp_path: Path) -> TestClient:
    return TestClient(create_app(store, tmp_path))


def newest_first(events: list[Event], keep: Callable[[Event], bool]) -> list[str]:
    hits = sorted((e for e in events if keep(e)), key=lambda e: (e.ts_ms, str(e.event_id)), reverse=True)
    return [str(e.event_id) for e in hits]


FILTER_CASES: list[tuple[str, dict[str, Any], Callable[[Event], bool]]] = [
    ("no filter", {}, lambda e: True),
    ("camera", {"camera_id": "cam-2"}, lambda e: e.camera_id == "cam-2"),
    ("one type", {"type": "line_crossing"}, lambda e: e.type == "line_crossing"),
    ("two types", {"type": ["zone_intrusion", "line_crossing"]}, lambda e: True),
    (
        "window ms, bounds inclusive",
        {"since_ms": T0_MS + 3000, "until_ms": T0_MS + 7000},
        lambda e: T0_MS + 3000 <= e.ts_ms <= T0_MS + 7000,
    ),
    (
        "window ISO with an offset",
        {"since": _iso(T0_MS + 3000, 2), "until": _iso(T0_MS + 7000, -5)},
        lambda e: T0_MS + 3000 <= e.ts_ms <= T0_MS + 7000,
    ),
    (
        "camera + type + since",
        {"camera_id": "cam-1", "type": "zone_intrusion", "since_ms": T0_MS + 4000},
        lambda e: e.camera_id == "cam-1" and e.type == "zone_intrusion" and e.ts_ms >= T0_MS + 4000,
    ),
    ("nothing matches", {"camera_id": "cam-404"}, lambda e: False),
]


@pytest.mark.parametrize(("params", "keep"), [c[1:] for c in FILTER_CASES], ids=[c[0] for c in FILTER_CASES])
def test_filters_select_newest_first(
    client: TestClient, events: list[Event], params: dict[str, Any], keep: Callable[[Event], bool]
) -> None:
    r = client.get("/v1/events", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = newest_first(events, keep)
    assert [item["event_id"] for item in body["items"]] == expected
    assert body["total"] == len(expected)
    assert (body["limit"], body["offset"], body["next_offset"]) == (50, 0, None)


def test_query_reaches_store_translated(client: TestClient, store: FakeEventStore) -> None:
    params = {"camera_id": "cam-1", "type": ["line_crossing", "line_crossing"], "since": _iso(T0_MS, 1)}
    assert client.get("/v1/events", params={**params, "limit": 7, "offset": 2}).status_code == 200
    q = store.queries[-1]
    assert (q.camera_id, tuple(q.types), q.since_ms, q.until_ms) == (
        "cam-1",
        ("line_crossing",),
        T0_MS,
        None,
    )
    assert (q.alerts_only, q.limit, q.offset) == (False, 7, 2)


PAGE_CASES = [
    # limit, offset, expected item count, expected next_offset
    (5, 0, 5, 5),
    (5, 5, 5, 10),
    (5, 10, 2, None),
    (12, 0, 12, None),
    (11, 0, 11, 11),
    (5, 12, 0, None),
    (5, 40, 0, None),
]


@pytest.mark.parametrize(("limit", "offset", "count", "next_offset"), PAGE_CASES)
def test_pagination(
    client: TestClient, events: list[Event], limit: int, offset: int, count: int, next_offset: int | None
) -> None:
    body = client.get("/v1/events", params={"limit": limit, "offset": offset}).json()
    all_ids = newest_first(events, lambda e: True)
    assert [i["event_id"] for i in body["items"]] == all_ids[offset : offset + limit]
    assert len(body["items"]) == count
    assert (body["total"], body["limit"], body["offset"], body["next_offset"]) == (
        N_EVENTS,
        limit,
        offset,
        next_offset,
    )


def test_walking_next_offset_visits_every_event_once(client: TestClient, events: list[Event]) -> None:
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        body = client.get("/v1/events", params={"limit": 5, "offset": offset}).json()
        seen += [i["event_id"] for i in body["items"]]
        offset = body["next_offset"]
    assert seen == newest_first(events, lambda e: True)


def test_default_and_max_limit_come_from_config(store: FakeEventStore, tmp_path: Path) -> None:
    client = TestClient(create_app(store, tmp_path, config=ApiConfig(page_limit_default=3, page_limit_max=4)))
    body = client.get("/v1/events").json()
    assert (len(body["items"]), body["limit"], body["next_offset"]) == (3, 3, 3)
    assert client.get("/v1/events", params={"limit": 4}).status_code == 200
    r = client.get("/v1/events", params={"limit": 5})
    assert r.status_code == 422
    assert "less than or equal to 4" in r.text


BAD_PARAMS: list[tuple[str, dict[str, Any], str]] = [
    ("malformed type", {"type": "Fire!"}, "String should match pattern"),
    ("since after until", {"since_ms": T0_MS + 1, "until_ms": T0_MS}, "is after until"),
    ("ISO since after until", {"since": _iso(T0_MS + 1000), "until": _iso(T0_MS)}, "is after until"),
    ("limit zero", {"limit": 0}, "greater than or equal to 1"),
    ("limit over max", {"limit": 501}, "less than or equal to 500"),
    ("negative offset", {"offset": -1}, "greater than or equal to 0"),
    ("offset over max", {"offset": 100_001}, "less than or equal to 100000"),
    ("negative since_ms", {"since_ms": -5}, "greater than or equal to 0"),
    ("non-numeric since_ms", {"since_ms": "yesterday"}, "valid integer"),
    ("naive ISO time", {"since": "2026-11-24T10:00:00"}, "timezone"),
    ("since twice", {"since": _iso(T0_MS), "since_ms": T0_MS}, "either since or since_ms"),
    ("unknown parameter", {"camera": "cam-1"}, "Extra inputs are not permitted"),
    ("empty camera", {"camera_id": ""}, "at least 1 character"),
]


@pytest.mark.parametrize(("params", "message"), [c[1:] for c in BAD_PARAMS], ids=[c[0] for c in BAD_PARAMS])
@pytest.mark.parametrize("path", ["/v1/events", "/v1/alerts"])
def test_bad_params_are_422_with_a_message(
    client: TestClient, store: FakeEventStore, path: str, params: dict[str, Any], message: str
) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert message in r.text
    assert store.queries == []


def test_get_one_event(
    client: TestClient, store: FakeEventStore, events: list[Event], tmp_path: Path
) -> None:
    with_snap, _ = attach_snapshot(tmp_path, make_event(ts_ms=T0_MS + 99_000, track_id=99), seed=1)
    store.insert([with_snap])
    for event, url in [(events[3], None), (with_snap, f"/v1/events/{with_snap.event_id}/snapshot")]:
        r = client.get(f"/v1/events/{event.event_id}")
        assert r.status_code == 200, r.text
        assert r.json() == {**event.model_dump(mode="json"), "snapshot_url": url}


@pytest.mark.parametrize(
    ("event_id", "status", "message"),
    [
        (str(uuid.UUID(int=1)), 404, "not found"),
        ("not-a-uuid", 422, "valid UUID"),
        ("1234", 422, "valid UUID"),
    ],
)
def test_get_event_errors(client: TestClient, event_id: str, status: int, message: str) -> None:
    r = client.get(f"/v1/events/{event_id}")
    assert r.status_code == status
    assert message in r.text
