"""/v1/alerts over a real chDB store and its `alert_state` table: only alert=true events, newest first,
each with its lifecycle state and its rule's SOP; filters by status and assignee; cursor paging; the
caller's camera scope; counts by type; who may read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from anfang.wiring import event_types_for_api
from api.app import create_app
from events.alert_state import AlertState, AlertStatus
from events.schema import Event
from events.store.alert_state_sql import ALERT_STATE_TABLE, AlertStateSqlStore
from events.store.chdb_store import ChdbStore
from pipelines.event_kinds import EVENT_KINDS
from tests.unit.api_fakes import T0_MS, FakeAuthenticator, ListAuditSink, attach_snapshot, bearer, make_event

OPERATOR = bearer("operator")
SOP = "Call the gate guard. / 呼叫门岗。"


def seed(data_dir: Path) -> list[Event]:
    """12 events over 2 cameras (cam-1 of site north, cam-2 of south); every 3rd is not an alert;
    even ones carry a snapshot file; line crossings every 5th."""
    events = []
    for i in range(12):
        camera = i % 2 + 1
        event = make_event(
            ts_ms=T0_MS + i * 60_000,
            camera_id=f"cam-{camera}",
            site_id="north" if camera == 1 else "south",
            event_type="line_crossing" if i % 5 == 0 else "zone_intrusion",
            alert=i % 3 != 0,
            track_id=i,
        )
        if i % 2 == 0:
            event, _ = attach_snapshot(data_dir, event, seed=i)
        events.append(event)
    return events


class World:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.store = ChdbStore(data_dir / "chdb")
        self.store.ensure_schema()
        self.events = seed(data_dir)
        self.store.insert(self.events)
        self.states = AlertStateSqlStore(self.store)
        self.states.ensure_schema()
        self.alerts = sorted((e for e in self.events if e.alert), key=lambda e: e.ts_ms, reverse=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("alerts"))
    yield w
    w.store.close()


@pytest.fixture
def client(world: World) -> TestClient:
    world.store.command(lambda bind: f"TRUNCATE TABLE {world.store.database}.{ALERT_STATE_TABLE}")
    app = create_app(
        world.store,
        world.data_dir,
        event_types=event_types_for_api(),
        authenticator=FakeAuthenticator(),
        audit=ListAuditSink(),
        alert_states=world.states,
        rule_sops=lambda camera_id, rule_id: (
            SOP if (camera_id, rule_id) == ("cam-1", "gate-intrusion") else ""
        ),
    )
    return TestClient(app)


def ids(events: list[Event]) -> list[str]:
    return [str(e.event_id) for e in events]


def listed(client: TestClient, params: dict[str, Any] | None = None, who: str = "operator") -> Any:
    r = client.get("/v1/alerts", params=params or {}, headers=bearer(who))
    assert r.status_code == 200, r.text
    return r.json()


CASES: list[dict[str, Any]] = [{}, {"camera_id": "cam-2"}, {"type": "line_crossing"}, {"limit": 2}]


@pytest.mark.parametrize("params", CASES)
def test_only_alerts_newest_first(client: TestClient, world: World, params: dict[str, Any]) -> None:
    body = listed(client, params)
    expected = [
        e
        for e in world.alerts
        if e.camera_id == params.get("camera_id", e.camera_id) and e.type == params.get("type", e.type)
    ]
    limit = params.get("limit", 50)
    assert [i["event_id"] for i in body["items"]] == ids(expected[:limit])
    assert all(i["alert"] is True for i in body["items"])
    assert body["total"] == len(expected) and body["limit"] == limit
    assert (body["next_cursor"] is not None) is (len(expected) > limit)


def test_cursor_pages_walk_every_alert_once(client: TestClient, world: World) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    for _ in range(10):
        body = listed(client, params)
        seen += [i["event_id"] for i in body["items"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert seen == ids(world.alerts)


def test_items_carry_state_and_sop(client: TestClient, world: World) -> None:
    first, second = world.alerts[0], world.alerts[1]
    for event_id, payload in [
        (first.event_id, {"action": "acknowledge"}),
        (first.event_id, {"action": "assign", "assignee": "bob"}),
        (second.event_id, {"action": "resolve", "resolution": "test"}),
    ]:
        r = client.post(f"/v1/alerts/{event_id}/actions", json=payload, headers=OPERATOR)
        assert r.status_code == 200, r.text
    items = {i["event_id"]: i for i in listed(client)["items"]}
    assert items[str(first.event_id)]["state"] | {"updated_ts_ms": None} == {
        "status": "acknowledged",
        "assignee": "bob",
        "resolution": None,
        "escalation_level": 0,
        "version": 2,
        "updated_by": "test-operator",
        "updated_ts_ms": None,
    }
    assert items[str(second.event_id)]["state"]["resolution"] == "test"
    untouched = [i for k, i in items.items() if k not in {str(first.event_id), str(second.event_id)}]
    assert untouched and all(i["state"]["version"] == 0 and i["state"]["status"] == "new" for i in untouched)
    sops = {(i["camera_id"], i["rule_id"]): i["sop"] for i in items.values()}
    assert sops.pop(("cam-1", "gate-intrusion")) == SOP
    assert sops and set(sops.values()) == {""}


#: Actions per alert (by index in newest-first order) before the filters are tried.
PLAN: dict[int, list[dict[str, Any]]] = {
    0: [{"action": "acknowledge"}],
    1: [{"action": "assign", "assignee": "bob"}],  # still new, but assigned
    2: [{"action": "start"}, {"action": "assign", "assignee": "bob"}],
    3: [{"action": "resolve", "resolution": "false_alarm"}],
    4: [{"action": "assign", "assignee": "erin"}, {"action": "resolve", "resolution": "true_alarm"}],
    5: [{"action": "comment", "comment": "seen"}],  # still new
}
FILTERS: list[dict[str, Any]] = [
    {"status": "new"},
    {"status": ["acknowledged", "in_progress"]},
    {"status": "resolved"},
    {"status": ["new", "resolved"]},
    {"assignee": "bob"},
    {"assignee": "erin", "status": "resolved"},
    {"assignee": "bob", "status": "new"},
    {"assignee": "nobody"},
    {"assignee": "x' OR 1=1 --"},
    {"status": "in_progress", "camera_id": "cam-2"},
]


@pytest.mark.parametrize("params", FILTERS)
def test_filters_by_status_and_assignee(client: TestClient, world: World, params: dict[str, Any]) -> None:
    for index, actions in PLAN.items():
        for payload in actions:
            url = f"/v1/alerts/{world.alerts[index].event_id}/actions"
            assert client.post(url, json=payload, headers=OPERATOR).status_code == 200
    latest = world.states.latest([e.event_id for e in world.alerts])
    assert {latest.get(e.event_id, AlertState.NEW).status for e in world.alerts} == set(AlertStatus)
    wanted = params.get("status", [])
    statuses = [wanted] if isinstance(wanted, str) else wanted
    expected = [
        e
        for e in world.alerts
        if (not statuses or latest.get(e.event_id, AlertState.NEW).status in statuses)
        and (
            "assignee" not in params or latest.get(e.event_id, AlertState.NEW).assignee == params["assignee"]
        )
        and e.camera_id == params.get("camera_id", e.camera_id)
    ]
    body = listed(client, params)
    assert [i["event_id"] for i in body["items"]] == ids(expected)
    assert body["total"] == len(expected)
    assert all(i["state"]["status"] in (statuses or list(AlertStatus)) for i in body["items"])


@pytest.mark.parametrize(
    ("who", "cameras"),
    [("operator@cam-1", {"cam-1"}), ("operator@site:south", {"cam-2"}), ("auditor@cam-9", set())],
)
def test_a_scoped_caller_sees_only_its_cameras(
    client: TestClient, world: World, who: str, cameras: set[str]
) -> None:
    body = listed(client, who=who)
    expected = [e for e in world.alerts if e.camera_id in cameras]
    assert [i["event_id"] for i in body["items"]] == ids(expected)
    assert body["total"] == len(expected)
    other = listed(client, {"camera_id": "cam-2"}, who=who)
    assert other["total"] == (
        len([e for e in world.alerts if e.camera_id == "cam-2"]) if "cam-2" in cameras else 0
    )
    counts = client.get("/v1/alerts/counts", headers=bearer(who)).json()
    assert counts["total"] == len(expected)


@pytest.mark.parametrize(("who", "status"), [("auditor", 200), ("admin", 200), ("integrator", 403)])
def test_who_may_list(client: TestClient, who: str, status: int) -> None:
    assert client.get("/v1/alerts", headers=bearer(who)).status_code == status
    assert client.get("/v1/alerts/counts", headers=bearer(who)).status_code == status


def test_unauthenticated_is_401(client: TestClient) -> None:
    for path in ("/v1/alerts", "/v1/alerts/counts"):
        r = client.get(path)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("params", [{"status": "closed"}, {"status": "new' OR 1=1"}, {"limit": 0}])
def test_bad_filters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get("/v1/alerts", params=params, headers=OPERATOR).status_code == 422


def test_snapshot_url_only_where_a_snapshot_exists(client: TestClient, world: World) -> None:
    items = listed(client)["items"]
    by_id = {str(e.event_id): e for e in world.events}
    assert any(i["snapshot_url"] for i in items) and any(i["snapshot_url"] is None for i in items)
    for item in items:
        event = by_id[item["event_id"]]
        if event.snapshot is None:
            assert item["snapshot_url"] is None
        else:
            assert item["snapshot_url"] == f"/v1/events/{event.event_id}/snapshot"
            assert client.get(item["snapshot_url"], headers=OPERATOR).status_code == 200


@pytest.mark.parametrize(
    "params",
    [{}, {"camera_id": "cam-1"}, {"since_ms": T0_MS + 3 * 60_000, "until_ms": T0_MS + 8 * 60_000}],
)
def test_counts_by_type(client: TestClient, world: World, params: dict[str, Any]) -> None:
    r = client.get("/v1/alerts/counts", params=params, headers=OPERATOR)
    assert r.status_code == 200, r.text
    lo, hi = params.get("since_ms", 0), params.get("until_ms", 2**63)
    alerts = [
        e for e in world.alerts if e.camera_id == params.get("camera_id", e.camera_id) and lo <= e.ts_ms <= hi
    ]
    expected = {k.event_type: sum(1 for e in alerts if e.type == k.event_type) for k in EVENT_KINDS}
    assert r.json() == {"by_type": expected, "total": len(alerts)}


def test_counts_reject_list_parameters(client: TestClient) -> None:
    r = client.get("/v1/alerts/counts", params={"limit": 5}, headers=OPERATOR)
    assert r.status_code == 422
    assert "Extra inputs are not permitted" in r.text
