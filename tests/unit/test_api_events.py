"""/v1/events: filters reach the store, pages chain through next_offset and next_cursor, the caller's
camera scope limits everything, aggregates, and what the OpenAPI document promises is accepted."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import services
from api.app import create_app
from api.config import ApiConfig
from api.schemas import EventListParams, EventPageOut
from events.auth import CameraScope
from events.schema import Event
from tests.unit.api_fakes import T0_MS, FakeAuthenticator, FakeEventStore, attach_snapshot, bearer, make_event
from tests.unit.events_samples import engine_order_key, with_attributes

N_EVENTS = 12


def _iso(ts_ms: int, offset_h: int = 0) -> str:
    tz = timezone(timedelta(hours=offset_h))
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(tz).isoformat()


def seed_events() -> list[Event]:
    """12 events a second apart: cam-2 (site south) every third, else cam-1 (north); types alternate;
    every 4th is not an alert; rules r0/r1/r2 by i % 3; cars every 5th; the last one a note."""
    events = [
        make_event(
            ts_ms=T0_MS + i * 1000,
            camera_id="cam-2" if i % 3 == 0 else "cam-1",
            site_id="south" if i % 3 == 0 else "north",
            event_type="zone_intrusion" if i % 2 == 0 else "line_crossing",
            alert=i % 4 != 0,
            track_id=i,
            rule_id=f"r{i % 3}",
            label="car" if i % 5 == 0 else "person",
        )
        for i in range(N_EVENTS - 1)
    ]
    note = make_event(ts_ms=T0_MS + (N_EVENTS - 1) * 1000, camera_id="cam-1", site_id="north", track_id=99)
    return [*events, with_attributes(note, "note", text="Gate left OPEN; it's 100%")]


@pytest.fixture
def events() -> list[Event]:
    return seed_events()


@pytest.fixture
def store(events: list[Event]) -> FakeEventStore:
    return FakeEventStore(events)


def make_client(
    store: FakeEventStore, tmp_path: Path, credential: str = "admin", **kwargs: Any
) -> TestClient:
    app = create_app(store, tmp_path, authenticator=FakeAuthenticator(), **kwargs)
    return TestClient(app, headers=bearer(credential))


@pytest.fixture
def client(store: FakeEventStore, tmp_path: Path) -> TestClient:
    return make_client(store, tmp_path)


def newest_first(events: list[Event], keep: Callable[[Event], bool]) -> list[str]:
    hits = sorted((e for e in events if keep(e)), key=engine_order_key, reverse=True)
    return [str(e.event_id) for e in hits]


FILTER_CASES: list[tuple[str, dict[str, Any], Callable[[Event], bool]]] = [
    ("no filter", {}, lambda e: True),
    ("camera", {"camera_id": "cam-2"}, lambda e: e.camera_id == "cam-2"),
    ("cameras", {"camera": ["cam-2", "cam-9"]}, lambda e: e.camera_id == "cam-2"),
    ("one type", {"type": "line_crossing"}, lambda e: e.type == "line_crossing"),
    ("two types", {"type": ["zone_intrusion", "line_crossing"]}, lambda e: e.type != "note"),
    ("rules", {"rule": ["r0", "r2"]}, lambda e: e.rule_id in ("r0", "r2")),
    ("label", {"label": "car"}, lambda e: e.label == "car"),
    ("alerts only", {"alerts_only": True}, lambda e: e.alert),
    ("free text, any case", {"q": "gate LEFT open"}, lambda e: e.type == "note"),
    ("free text with SQL", {"q": "'; DROP TABLE events; --"}, lambda e: False),
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
        "since and since_ms both: the later applies",
        {
            "since": _iso(T0_MS + 2000),
            "since_ms": T0_MS + 6000,
            "until_ms": T0_MS + 9000,
            "until": _iso(T0_MS + 8000),
        },
        lambda e: T0_MS + 6000 <= e.ts_ms <= T0_MS + 8000,
    ),
    ("since after until: nothing", {"since_ms": T0_MS + 5000, "until_ms": T0_MS + 4000}, lambda e: False),
    ("since before 1970", {"since": "0001-01-01T00:00:00+14:00"}, lambda e: True),
    ("until in year 9999", {"until": "9999-12-31T23:59:59-12:00"}, lambda e: True),
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
    assert (body["limit"], body["offset"], body["next_offset"], body["next_cursor"]) == (50, 0, None, None)


def test_status_and_assignee_filter_by_alert_state(client: TestClient, store: FakeEventStore) -> None:
    acked, assigned = sorted((e for e in store.events.values() if e.alert), key=lambda e: e.ts_ms)[:2]
    store.states = {acked.event_id: ("acknowledged", "ann"), assigned.event_id: ("new", "bob")}
    body = client.get("/v1/events", params={"status": ["acknowledged", "resolved"]}).json()
    assert [i["event_id"] for i in body["items"]] == [str(acked.event_id)]
    body = client.get("/v1/events", params={"assignee": "bob", "status": "new"}).json()
    assert [i["event_id"] for i in body["items"]] == [str(assigned.event_id)]
    assert store.queries[-1].statuses == ("new",) and store.queries[-1].assignee == "bob"


def test_query_reaches_store_translated(client: TestClient, store: FakeEventStore) -> None:
    params = {
        "camera_id": "cam-1",
        "camera": ["cam-1", "cam-1", "cam-3"],
        "type": ["line_crossing", "line_crossing"],
        "rule": "r1",
        "label": ["person"],
        "q": "gate",
        "since": _iso(T0_MS, 1),
        "with_total": "false",
    }
    assert client.get("/v1/events", params={**params, "limit": 7, "offset": 2}).status_code == 200
    q = store.queries[-1]
    assert (q.camera_id, q.cameras, q.types, q.rule_ids, q.labels, q.text) == (
        "cam-1",
        ("cam-1", "cam-3"),
        ("line_crossing",),
        ("r1",),
        ("person",),
        "gate",
    )
    assert (q.since_ms, q.until_ms, q.alerts_only, q.limit, q.offset, q.with_total) == (
        T0_MS,
        None,
        False,
        7,
        2,
        False,
    )
    assert (q.scope, q.after) == (None, None)


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
def test_offset_pagination(
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


@pytest.mark.parametrize("how", ["next_offset", "next_cursor"])
def test_walking_the_pages_visits_every_event_once(client: TestClient, events: list[Event], how: str) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 5}
    while True:
        body = client.get("/v1/events", params=params).json()
        seen += [i["event_id"] for i in body["items"]]
        if body[how] is None:
            break
        params = {"limit": 5, how.removeprefix("next_"): body[how]}
    assert seen == newest_first(events, lambda e: True)


def test_a_cursor_page_ignores_events_that_arrived_since(
    client: TestClient, store: FakeEventStore, events: list[Event]
) -> None:
    first = client.get("/v1/events", params={"limit": 4}).json()
    store.insert([make_event(ts_ms=T0_MS + 60_000 + i, track_id=500 + i) for i in range(3)])
    second = client.get("/v1/events", params={"limit": 4, "cursor": first["next_cursor"]}).json()
    assert [i["event_id"] for i in second["items"]] == newest_first(events, lambda e: True)[4:8]
    assert second["total"] == N_EVENTS + 3


def test_default_and_max_limit_come_from_config_and_the_schema_says_so(
    store: FakeEventStore, tmp_path: Path
) -> None:
    client = make_client(
        store, tmp_path, config=ApiConfig(page_limit_default=3, page_limit_max=4, offset_max=9)
    )
    body = client.get("/v1/events").json()
    assert (len(body["items"]), body["limit"], body["next_offset"]) == (3, 3, 3)
    assert client.get("/v1/events", params={"limit": 4}).status_code == 200
    r = client.get("/v1/events", params={"limit": 5})
    assert r.status_code == 422
    assert "less than or equal to 4" in r.text
    parameters = client.get("/openapi.json").json()["paths"]["/v1/events"]["get"]["parameters"]
    schemas = {p["name"]: p["schema"] for p in parameters}
    assert schemas["limit"]["anyOf"][0]["maximum"] == 4 and schemas["offset"]["maximum"] == 9


BAD_PARAMS: list[tuple[str, dict[str, Any], str]] = [
    ("malformed type", {"type": "Fire!"}, "String should match pattern"),
    ("limit zero", {"limit": 0}, "greater than or equal to 1"),
    ("limit over max", {"limit": 501}, "less than or equal to 500"),
    ("negative offset", {"offset": -1}, "greater than or equal to 0"),
    ("offset over max", {"offset": 100_001}, "less than or equal to 100000"),
    ("negative since_ms", {"since_ms": -5}, "greater than or equal to 0"),
    ("since_ms past year 9999", {"since_ms": 10**15}, "less than or equal to 253402300799999"),
    ("non-numeric since_ms", {"since_ms": "yesterday"}, "valid integer"),
    ("naive ISO time", {"since": "2026-11-24T10:00:00"}, "timezone"),
    ("unknown parameter", {"kamera": "cam-1"}, "Extra inputs are not permitted"),
    ("empty camera", {"camera_id": ""}, "at least 1 character"),
    ("forged cursor", {"cursor": "1' OR 1=1"}, "String should match pattern"),
    ("unknown status", {"status": "closed"}, "Input should be 'new'"),
    ("free text too long", {"q": "x" * 201}, "at most 200 characters"),
    ("empty free text", {"q": ""}, "at least 1 character"),
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


def _hour(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms // 3_600_000 * 3600, tz=UTC).strftime("%Y-%m-%dT%H:00:00Z")


GROUP_KEYS: dict[str, Callable[[Event], str]] = {
    "type": lambda e: e.type,
    "camera": lambda e: e.camera_id,
    "hour": lambda e: _hour(e.ts_ms),
}


@pytest.mark.parametrize("group_by", list(GROUP_KEYS))
def test_aggregates_count_per_group(client: TestClient, events: list[Event], group_by: str) -> None:
    r = client.get("/v1/events/aggregates", params={"group_by": group_by})
    assert r.status_code == 200, r.text
    expected = Counter(GROUP_KEYS[group_by](e) for e in events)
    assert r.json() == {
        "group_by": group_by,
        "buckets": [{"key": k, "count": n} for k, n in sorted(expected.items())],
        "total": N_EVENTS,
    }
    assert len(expected) >= (1 if group_by == "hour" else 2)


def test_aggregates_take_the_list_filters(client: TestClient, events: list[Event]) -> None:
    params = {"group_by": "camera", "alerts_only": True, "label": "person"}
    body = client.get("/v1/events/aggregates", params=params).json()
    expected: dict[str, int] = {}
    for e in events:
        if e.alert and e.label == "person":
            expected[e.camera_id] = expected.get(e.camera_id, 0) + 1
    assert body["buckets"] == [{"key": k, "count": n} for k, n in sorted(expected.items())]
    assert len(body["buckets"]) == 2
    assert client.get("/v1/events/aggregates", params={"group_by": "site"}).status_code == 422
    assert client.get("/v1/events/aggregates").status_code == 422


SCOPED = ["operator@cam-1", "auditor@site:north", "operator@cam-1,site:east"]


@pytest.mark.parametrize("credential", SCOPED)
def test_a_scoped_user_never_sees_other_cameras(
    store: FakeEventStore, events: list[Event], tmp_path: Path, credential: str
) -> None:
    client = make_client(store, tmp_path, credential)
    mine = newest_first(events, lambda e: e.camera_id == "cam-1")
    for params in ({}, {"camera_id": "cam-2"}, {"camera": ["cam-1", "cam-2"]}, {"q": "zone"}):
        body = client.get("/v1/events", params={**params, "limit": 100}).json()
        assert {i["camera_id"] for i in body["items"]} <= {"cam-1"}
        assert body["total"] == len(body["items"])
    assert [i["event_id"] for i in client.get("/v1/events").json()["items"]] == mine
    assert store.queries[-1].scope is not None
    for group_by in ("camera", "type", "hour"):
        body = client.get("/v1/events/aggregates", params={"group_by": group_by}).json()
        assert body["total"] == len(mine), group_by
    other = next(e for e in events if e.camera_id == "cam-2")
    r = client.get(f"/v1/events/{other.event_id}")
    assert (r.status_code, r.json()) == (404, {"detail": f"event {other.event_id} not found"})
    assert client.get(f"/v1/events/{events[1].event_id}").status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), (bearer("forged"), 401), (bearer("integrator"), 403), (bearer("auditor"), 200)],
)
def test_who_may_read_history(
    store: FakeEventStore, tmp_path: Path, headers: dict[str, str], status: int
) -> None:
    client = TestClient(create_app(store, tmp_path, authenticator=FakeAuthenticator()))
    for path in ("/v1/events", "/v1/events/aggregates?group_by=type", f"/v1/events/{uuid.UUID(int=5)}"):
        r = client.get(path, headers=headers)
        assert r.status_code == (404 if status == 200 and "0000" in path else status), (path, r.text)


def test_scope_reaches_the_store(store: FakeEventStore, tmp_path: Path) -> None:
    make_client(store, tmp_path, "operator@cam-1,site:north").get("/v1/events")
    assert store.queries[-1].scope == CameraScope(sites=("north",), cameras=("cam-1",))


@pytest.mark.parametrize("params", [{}, {"limit": 3}, {"limit": 2, "offset": 4, "with_total": False}])
def test_the_fast_page_json_is_the_documented_page(
    client: TestClient, store: FakeEventStore, tmp_path: Path, params: dict[str, Any]
) -> None:
    """/v1/events writes its JSON straight from the events: the same document as `EventPageOut`."""
    with_snap, _ = attach_snapshot(tmp_path, make_event(ts_ms=T0_MS + 99_000, track_id=99), seed=1)
    store.insert([with_snap])
    r = client.get("/v1/events", params=params)
    body = r.json()
    limit = params.get("limit", 50)
    request = EventListParams.model_validate({k: v for k, v in params.items() if k != "limit"})
    expected = services.list_events(store, request, limit=limit).model_dump(mode="json")
    assert body == expected and EventPageOut.model_validate_json(r.content).limit == limit
    assert body["items"][0]["snapshot_url"] == (
        f"/v1/events/{with_snap.event_id}/snapshot" if "offset" not in params else None
    )
