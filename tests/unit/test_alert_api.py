"""One alert and its actions over HTTP (GET /v1/alerts/{id}, POST /v1/alerts/{id}/actions): every action
from every status (200 or 409 saying why), history with who and when, the SOP, roles (operator acts;
auditor and integrator may not), camera scope (404 like an unknown alert), malformed bodies (422),
racing actions (one wins) and the audit record of each action."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from events.alert_state import AlertAction, AlertStatus, MemoryAlertStateStore
from events.schema import Event
from tests.unit.api_fakes import T0_MS, FakeAuthenticator, FakeEventStore, ListAuditSink, bearer, make_event
from tests.unit.test_alert_state import ARGS, PATHS, TRANSITIONS

OPERATOR = bearer("operator")
SOPS = {("cam-a", "gate-intrusion"): "Call the gate guard. / 呼叫门岗。"}


def body(action: AlertAction, **extra: Any) -> dict[str, Any]:
    """The JSON body of `action` with what it needs."""
    args = {k: v.value if hasattr(v, "value") else v for k, v in ARGS[action].items()}
    return {"action": action.value, **args, **extra}


class Api:
    """An app over a fake store with one alert per camera (cam-a of site north, cam-b of site south)."""

    def __init__(self, tmp_path: Path, *, with_states: bool = True) -> None:
        self.alert = make_event(ts_ms=T0_MS, camera_id="cam-a", site_id="north", track_id=1)
        self.other = make_event(ts_ms=T0_MS + 1, camera_id="cam-b", site_id="south", track_id=2)
        self.quiet = make_event(ts_ms=T0_MS + 2, camera_id="cam-a", site_id="north", track_id=3, alert=False)
        self.store = FakeEventStore([self.alert, self.other, self.quiet])
        self.states = MemoryAlertStateStore() if with_states else None
        self.audit = ListAuditSink()
        self.app: FastAPI = create_app(
            self.store,
            tmp_path,
            authenticator=FakeAuthenticator(),
            audit=self.audit,
            alert_states=self.states,
            rule_sops=lambda camera_id, rule_id: SOPS.get((camera_id, rule_id), ""),
        )
        self.client = TestClient(self.app)

    def act(self, event: Event, payload: Any, who: str = "operator") -> Any:
        return self.client.post(f"/v1/alerts/{event.event_id}/actions", json=payload, headers=bearer(who))

    def detail(self, event: Event, who: str = "operator") -> Any:
        return self.client.get(f"/v1/alerts/{event.event_id}", headers=bearer(who))


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return Api(tmp_path)


@pytest.mark.parametrize(("status", "action", "outcome"), TRANSITIONS)
def test_every_action_from_every_status(
    api: Api, status: AlertStatus, action: AlertAction, outcome: AlertStatus | str
) -> None:
    for step in PATHS[status]:
        assert api.act(api.alert, body(step)).status_code == 200
    before = api.detail(api.alert).json()["state"]
    assert before["status"] == status.value
    r = api.act(api.alert, body(action))
    if isinstance(outcome, AlertStatus):
        assert r.status_code == 200, r.text
        state = r.json()["state"]
        assert state["status"] == outcome.value
        assert state["version"] == before["version"] + 1
        assert state["updated_by"] == "test-operator"
    else:
        assert r.status_code == 409, r.text
        assert outcome in r.json()["detail"]
        assert api.detail(api.alert).json()["state"] == before  # nothing appended


def test_detail_has_history_with_who_and_when_and_the_sop(api: Api) -> None:
    start_ms = int(time.time() * 1000)
    assert api.act(api.alert, body(AlertAction.ACKNOWLEDGE, comment="on it")).status_code == 200
    assert api.act(api.alert, {"action": "assign", "assignee": "bob"}, who="admin").status_code == 200
    r = api.act(api.alert, {"action": "resolve", "resolution": "true_alarm", "expected_version": 2})
    assert r.status_code == 200, r.text
    assert r.json()["sop"] == SOPS[("cam-a", "gate-intrusion")]
    detail = api.detail(api.alert).json()
    assert detail["event_id"] == str(api.alert.event_id) and detail["camera_id"] == "cam-a"
    assert detail["sop"] == SOPS[("cam-a", "gate-intrusion")]
    assert detail["state"] | {"updated_ts_ms": 0} == {
        "status": "resolved",
        "assignee": "bob",
        "resolution": "true_alarm",
        "escalation_level": 0,
        "version": 3,
        "updated_by": "test-operator",
        "updated_ts_ms": 0,
    }
    history = detail["history"]
    assert [(h["version"], h["action"], h["actor"], h["status"]) for h in history] == [
        (1, "acknowledge", "test-operator", "acknowledged"),
        (2, "assign", "test-admin", "acknowledged"),
        (3, "resolve", "test-operator", "resolved"),
    ]
    assert history[0]["comment"] == "on it" and history[1]["assignee"] == "bob"
    stamps = [h["ts_ms"] for h in history]
    assert start_ms <= stamps[0] <= stamps[1] <= stamps[2] <= int(time.time() * 1000)
    assert detail["state"]["updated_ts_ms"] == stamps[2]


def test_a_new_alert_has_an_empty_history_and_no_sop_when_its_rule_has_none(api: Api) -> None:
    detail = api.detail(api.other, who="admin").json()
    assert detail["history"] == [] and detail["sop"] == ""
    assert detail["state"] == {
        "status": "new",
        "assignee": None,
        "resolution": None,
        "escalation_level": 0,
        "version": 0,
        "updated_by": None,
        "updated_ts_ms": None,
    }


@pytest.mark.parametrize(
    ("who", "status"),
    [("operator", 200), ("admin", 200), ("auditor", 403), ("integrator", 403)],
)
def test_who_may_act(api: Api, who: str, status: int) -> None:
    r = api.act(api.alert, body(AlertAction.ACKNOWLEDGE), who=who)
    assert r.status_code == status, r.text
    acted = [rec for rec in api.audit.records if rec.action == "alert.acknowledge"]
    denied = [rec for rec in api.audit.records if rec.action == "access.denied"]
    assert (len(acted), len(denied)) == ((1, 0) if status == 200 else (0, 1))
    assert api.states is not None and len(api.states.history(api.alert.event_id)) == (status == 200)


@pytest.mark.parametrize(("who", "status"), [("auditor", 200), ("integrator", 403), ("operator", 200)])
def test_who_may_read_one_alert(api: Api, who: str, status: int) -> None:
    assert api.detail(api.alert, who=who).status_code == status


def test_unauthenticated_is_401(api: Api) -> None:
    url = f"/v1/alerts/{api.alert.event_id}"
    assert api.client.get(url).status_code == 401
    assert api.client.post(f"{url}/actions", json=body(AlertAction.ACKNOWLEDGE)).status_code == 401
    r = api.client.get(url, headers=bearer("forged-token"))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("who", ["operator@cam-b", "operator@site:south", "operator@cam-b,site:west"])
def test_out_of_scope_reads_like_unknown(api: Api, who: str) -> None:
    unknown = uuid.uuid4()
    hidden_get = api.detail(api.alert, who=who)
    hidden_act = api.act(api.alert, body(AlertAction.ACKNOWLEDGE), who=who)
    missing_get = api.client.get(f"/v1/alerts/{unknown}", headers=bearer(who))
    missing_act = api.client.post(
        f"/v1/alerts/{unknown}/actions", json=body(AlertAction.ACKNOWLEDGE), headers=bearer(who)
    )
    assert [r.status_code for r in (hidden_get, hidden_act, missing_get, missing_act)] == [404] * 4
    assert hidden_get.json()["detail"] == f"alert {api.alert.event_id} not found"
    assert missing_get.json()["detail"] == f"alert {unknown} not found"
    assert api.states is not None and api.states.history(api.alert.event_id) == []
    assert api.detail(api.other, who=who).status_code == 200  # its own camera's alert
    assert api.act(api.other, body(AlertAction.ACKNOWLEDGE), who=who).status_code == 200


def test_an_event_that_is_no_alert_is_not_found(api: Api) -> None:
    assert api.detail(api.quiet).status_code == 404
    assert api.act(api.quiet, body(AlertAction.ACKNOWLEDGE)).status_code == 404


@pytest.mark.parametrize("path", ["/v1/alerts/not-a-uuid", "/v1/alerts/12345/actions"])
def test_a_malformed_id_is_not_found(api: Api, path: str) -> None:
    r = api.client.get(path, headers=OPERATOR) if "actions" not in path else api.client.post(path, json={})
    assert r.status_code == 404


MALFORMED: list[tuple[Any, str]] = [
    ({}, "action"),
    ({"action": "reopen"}, "action"),
    ({"action": "assign"}, "assignee"),
    ({"action": "assign", "assignee": ""}, "assignee"),
    ({"action": "assign", "assignee": "bob; DROP TABLE"}, "assignee"),
    ({"action": "resolve"}, "resolution"),
    ({"action": "resolve", "resolution": "maybe"}, "resolution"),
    ({"action": "comment"}, "comment"),
    ({"action": "comment", "comment": " \n\t "}, "comment"),
    ({"action": "comment", "comment": "x" * 2001}, "comment"),
    ({"action": "acknowledge", "assignee": "bob"}, "assignee"),
    ({"action": "acknowledge", "resolution": "test"}, "resolution"),
    ({"action": "acknowledge", "expected_version": -1}, "expected_version"),
    ({"action": "acknowledge", "expected_version": "one"}, "expected_version"),
    ({"action": "acknowledge", "note": "extra"}, "note"),
    (["acknowledge"], "body"),
    ("acknowledge", "body"),
    (None, "body"),
]


@pytest.mark.parametrize(("payload", "field"), MALFORMED)
def test_malformed_bodies_are_422(api: Api, payload: Any, field: str) -> None:
    r = api.act(api.alert, payload)
    assert r.status_code == 422, r.text
    assert any(
        field in [*map(str, e["loc"]), e["msg"]] or f"'{field}'" in e["msg"] for e in r.json()["detail"]
    )
    assert api.states is not None and api.states.history(api.alert.event_id) == []


def test_invalid_json_is_422(api: Api) -> None:
    r = api.client.post(
        f"/v1/alerts/{api.alert.event_id}/actions",
        content=b"{not json",
        headers={**OPERATOR, "Content-Type": "application/json"},
    )
    assert r.status_code == 422


def test_a_stale_expected_version_is_409(api: Api) -> None:
    assert api.act(api.alert, body(AlertAction.ACKNOWLEDGE, expected_version=0)).status_code == 200
    r = api.act(api.alert, body(AlertAction.START, expected_version=0))
    assert r.status_code == 409
    assert "you saw version 0, it is now version 1" in r.json()["detail"]
    assert api.act(api.alert, body(AlertAction.START, expected_version=1)).status_code == 200


def test_racing_actions_exactly_one_wins(api: Api) -> None:
    """Six operators resolve the same alert at once: one 200, five 409, one row."""
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def resolve() -> None:
        with TestClient(api.app) as client:
            barrier.wait()
            r = client.post(
                f"/v1/alerts/{api.alert.event_id}/actions",
                json={"action": "resolve", "resolution": "false_alarm", "expected_version": 0},
                headers=OPERATOR,
            )
            codes.append(r.status_code)

    threads = [threading.Thread(target=resolve) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [409] * 5
    assert api.states is not None and len(api.states.history(api.alert.event_id)) == 1


def test_each_action_is_audited(api: Api) -> None:
    steps = [AlertAction.ASSIGN, AlertAction.ACKNOWLEDGE, AlertAction.ESCALATE, AlertAction.COMMENT]
    steps += [AlertAction.START, AlertAction.RESOLVE]
    for step in steps:
        assert api.act(api.alert, body(step)).status_code == 200
    assert api.act(api.alert, body(AlertAction.ACKNOWLEDGE)).status_code == 409
    records = [r for r in api.audit.records if r.action.startswith("alert.")]
    assert [r.action for r in records] == [f"alert.{s.value}" for s in [*steps, AlertAction.ACKNOWLEDGE]]
    assert {r.target for r in records} == {f"event:{api.alert.event_id}"}
    assert {(r.actor, r.role) for r in records} == {("test-operator", "operator")}
    assert [r.outcome for r in records] == ["ok"] * len(steps) + ["failed"]
    assert "assignee=bob" in records[0].detail and "level=1" in records[2].detail
    assert "resolution=false_alarm" in records[5].detail and "reopening" in records[6].detail
    assert all(r.source == "testclient" for r in records)


def test_without_a_state_store_alerts_read_as_new_and_actions_are_503(tmp_path: Path) -> None:
    api = Api(tmp_path, with_states=False)
    assert api.detail(api.alert).json()["state"]["status"] == "new"
    r = api.act(api.alert, body(AlertAction.ACKNOWLEDGE))
    assert r.status_code == 503 and "not enabled" in r.json()["detail"]


def test_the_openapi_document_describes_the_actions(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    post = doc["paths"]["/v1/alerts/{event_id}/actions"]["post"]
    assert {"404", "409", "422"} <= set(post["responses"])
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["discriminator"]["propertyName"] == "action"
    assert set(schema["discriminator"]["mapping"]) == {a.value for a in AlertAction}
