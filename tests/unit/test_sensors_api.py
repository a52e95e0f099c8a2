"""/v1/sensors over the embedded path (file registry, the hub on its thread, an in-memory readings
store): CRUD; a good batch is stored and evaluated; every bad input is a 4xx naming the cause with
nothing stored; a flood gets 429 (counted); the history query."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.sensor_services import SensorService
from events.registry.file_registry import FileCameraRegistry
from events.sensors import ReadingLimits, ReadingQuery, SensorReading, SensorRegistry, SensorSpec
from pipelines.sensors.config import SensorHubConfig
from pipelines.sensors.hub import EmbeddedSensorHub, SensorHub
from tests.unit.api_fakes import FakeAuthenticator, FakeEventStore, ListAuditSink, bearer
from tests.unit.publishers import Collect

NOW_MS = 1_795_000_000_000
GAS = {
    "id": "gas-1", "kind": "gas", "unit": "ppm", "site_id": "plant", "camera_ids": ["dock"],
    "rules": [{"id": "co", "type": "threshold", "limit": 50}],
}  # fmt: skip


class MemoryReadings:
    """`SensorReadingStore` in memory (same replace-by-(sensor, ts) semantics as the table)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], SensorReading] = {}

    def insert_readings(self, readings: Sequence[SensorReading]) -> int:
        self.rows.update(((r.sensor_id, r.ts_ms), r) for r in readings)
        return len(readings)

    def query_readings(self, q: ReadingQuery) -> list[SensorReading]:
        hits = [
            r
            for r in self.rows.values()
            if r.sensor_id == q.sensor_id
            and (q.since_ms is None or r.ts_ms >= q.since_ms)
            and (q.until_ms is None or r.ts_ms <= q.until_ms)
        ]
        return sorted(hits, key=lambda r: -r.ts_ms)[: q.limit]


class Env:
    def __init__(self, tmp_path: Path, limits: ReadingLimits) -> None:
        self.registry = SensorRegistry(FileCameraRegistry(tmp_path / "sensors.json"))
        self.registry.put(SensorSpec.model_validate(GAS))
        self.readings = MemoryReadings()
        self.published = Collect()
        config = SensorHubConfig(ingest=limits)
        self.hub = EmbeddedSensorHub(SensorHub(self.registry, self.published, config, "w"), self.readings)
        self.hub.start()
        self.service = SensorService(
            self.registry, sink=self.hub, readings=self.readings, limits=limits, now_ms=lambda: NOW_MS
        )
        self.audit = ListAuditSink()
        app = create_app(
            FakeEventStore(),
            tmp_path,
            sensors=self.service,
            authenticator=FakeAuthenticator(),
            audit=self.audit,
        )
        self.client = TestClient(app, headers=bearer("integrator"))

    def post(self, body: Any, sensor_id: str = "gas-1") -> Any:
        raw = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(
            f"/v1/sensors/{sensor_id}/readings", content=raw, headers={"content-type": "application/json"}
        )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path, ReadingLimits(batch_max=5, rate_per_s=1, burst=8, max_future_s=60, max_age_s=3600))
    yield e
    e.hub.stop()


def reading(dt_s: float = 0, value: float = 10.0, unit: str = "ppm") -> dict[str, Any]:
    return {"ts_ms": NOW_MS + int(dt_s * 1000), "value": value, "unit": unit}


def wait_for(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.01)


def test_a_good_batch_is_stored_evaluated_and_queryable(env: Env) -> None:
    r = env.post([reading(-3, 10), reading(-2, 80), reading(-1, 90)])
    assert (r.status_code, r.json()) == (202, {"sensor_id": "gas-1", "accepted": 3})
    assert len(env.readings.rows) == 3  # stored when the answer came
    wait_for(lambda: len(env.published.events) == 1)
    (alarm,) = env.published.events
    assert (alarm.type, alarm.camera_id, alarm.site_id, alarm.attributes.value) == (  # type: ignore[attr-defined]
        "sensor_alarm", "dock", "plant", 80.0,
    )  # fmt: skip
    page = env.client.get("/v1/sensors/gas-1/readings", params={"limit": 2}).json()
    assert page["items"] == [reading(-1, 90), reading(-2, 80)]
    assert page["next_until_ms"] == NOW_MS - 2001
    older = env.client.get("/v1/sensors/gas-1/readings", params={"until_ms": page["next_until_ms"]}).json()
    assert (older["items"], older["next_until_ms"]) == ([reading(-3, 10)], None)
    window = {"since_ms": NOW_MS - 2500, "until_ms": NOW_MS - 1500}
    assert env.client.get("/v1/sensors/gas-1/readings", params=window).json()["items"] == [reading(-2, 80)]
    assert env.client.get("/v1/sensors/gas-1").json()["ingest"] == {
        "accepted": 3, "rejected_batches": 0, "rate_limited": 0,
    }  # fmt: skip


def test_one_reading_object_is_a_batch_of_one(env: Env) -> None:
    assert env.post(reading()).json()["accepted"] == 1


NAN_BODY = '[{"ts_ms": 1795000000000, "value": NaN, "unit": "ppm"}]'
INF_BODY = '[{"ts_ms": 1795000000000, "value": -Infinity, "unit": "ppm"}]'
VALUE = ["body", 0, "value"]
BAD_BATCHES = [
    pytest.param([reading(), reading(unit="%LEL")], ["body", 1, "unit"], "not the sensor's unit", id="unit"),
    pytest.param([reading(61)], ["body", 0, "ts_ms"], "in the future", id="ts too far ahead"),
    pytest.param([reading(-3601)], ["body", 0, "ts_ms"], "old", id="ts too old"),
    pytest.param(NAN_BODY, VALUE, "finite", id="NaN"),
    pytest.param(INF_BODY, VALUE, "finite", id="inf"),
    pytest.param([{"ts_ms": NOW_MS, "value": "high", "unit": "ppm"}], VALUE, "number", id="not a number"),
    pytest.param([{"ts_ms": NOW_MS, "unit": "ppm"}], VALUE, "required", id="missing value"),
    pytest.param([{**reading(), "sensor": "x"}], ["body", 0, "sensor"], "not permitted", id="unknown field"),
    pytest.param([reading(i) for i in range(-6, 0)], ["body"], "at most 5", id="batch too large"),
    pytest.param([], ["body"], "no readings", id="empty"),
    pytest.param("[{", ["body"], "not JSON", id="invalid JSON"),
]


@pytest.mark.parametrize(("body", "loc", "message"), BAD_BATCHES)
def test_bad_batches_are_422_with_the_cause_and_nothing_stored(
    env: Env, body: Any, loc: list[Any], message: str
) -> None:
    r = env.post(body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(d["loc"] == loc and message in d["msg"] for d in detail), detail
    assert env.readings.rows == {}
    assert env.client.get("/v1/sensors/gas-1").json()["ingest"]["rejected_batches"] == 1


def test_unknown_sensor_is_404_and_a_huge_body_413(env: Env) -> None:
    r = env.post([reading()], sensor_id="nope")
    assert (r.status_code, r.json()) == (404, {"detail": "sensor 'nope' not found"})
    assert env.post("[" + " " * (1024 * 1024) + "]").status_code == 413
    assert env.readings.rows == {}


def test_a_flood_is_answered_429_and_counted(env: Env) -> None:
    # burst 8 at 1 reading/s; the service's clock stands still in this test: no refill
    assert env.post([reading(-i) for i in range(5)]).status_code == 202
    r = env.post([reading(-i - 10) for i in range(5)])
    assert r.status_code == 429
    assert "over its rate" in r.json()["detail"] and int(r.headers["Retry-After"]) >= 1
    assert env.post([reading(-20), reading(-21), reading(-22)]).status_code == 202
    assert env.post([reading(-30)]).status_code == 429
    assert len(env.readings.rows) == 8
    assert env.client.get("/v1/sensors/gas-1").json()["ingest"] == {
        "accepted": 8, "rejected_batches": 0, "rate_limited": 6,
    }  # fmt: skip
    env.service._now_ms = lambda: NOW_MS + 2000  # two seconds later: two readings' worth refilled
    assert env.post([reading(-40), reading(-41)]).status_code == 202
    assert env.post([reading(-42)]).status_code == 429


def test_crud(env: Env) -> None:
    smoke = {"id": "smoke-1", "kind": "smoke", "unit": "%obs/m", "rules": []}
    r = env.client.post("/v1/sensors", json=smoke)
    assert (r.status_code, r.headers["location"], r.json()["version"]) == (201, "/v1/sensors/smoke-1", 1)
    assert env.client.post("/v1/sensors", json=smoke).status_code == 409
    assert [s["id"] for s in env.client.get("/v1/sensors").json()["items"]] == ["gas-1", "smoke-1"]
    changed = {**smoke, "camera_ids": ["dock"]}
    r = env.client.put("/v1/sensors/smoke-1", json=changed)
    assert (r.status_code, r.json()["version"], r.json()["spec"]["camera_ids"]) == (200, 2, ["dock"])
    r = env.client.put("/v1/sensors/smoke-1", json={**changed, "id": "other"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "id"]
    assert env.client.put("/v1/sensors/ghost", json={**smoke, "id": "ghost"}).status_code == 404
    assert env.client.delete("/v1/sensors/smoke-1").status_code == 204
    assert env.client.delete("/v1/sensors/smoke-1").status_code == 404
    assert env.client.get("/v1/sensors/smoke-1").status_code == 404


def test_a_bad_sensor_body_names_the_field(env: Env) -> None:
    r = env.client.post("/v1/sensors", json={"id": "t1", "kind": "temperature", "unit": "K"})
    assert r.status_code == 422
    assert "not one of temperature's units" in r.json()["detail"][0]["msg"]
    r = env.client.post("/v1/sensors", json={"id": "t 1", "kind": "temperature", "unit": "C"})
    assert r.json()["detail"][0]["loc"] == ["body", "id"]


def test_without_sensors_the_routes_answer_503(tmp_path: Path) -> None:
    app = create_app(FakeEventStore(), tmp_path, authenticator=FakeAuthenticator())
    r = TestClient(app, headers=bearer("integrator")).get("/v1/sensors")
    assert (r.status_code, "not enabled" in r.json()["detail"]) == (503, True)


def test_the_history_query_is_checked(env: Env) -> None:
    r = env.client.get("/v1/sensors/gas-1/readings", params={"since_ms": 10, "until_ms": 5})
    assert r.status_code == 422
    assert env.client.get("/v1/sensors/gas-1/readings", params={"limt": 5}).status_code == 422
    too_many = env.client.get("/v1/sensors/gas-1/readings", params={"limit": 501})
    assert (too_many.status_code, too_many.json()["detail"][0]["loc"]) == (422, ["query", "limit"])
    assert env.client.get("/v1/sensors/nope/readings").status_code == 404


def test_the_openapi_document_shows_the_sensor_routes(env: Env) -> None:
    doc = env.client.get("/openapi.json").json()
    assert {"/v1/sensors", "/v1/sensors/{sensor_id}", "/v1/sensors/{sensor_id}/readings"} <= set(doc["paths"])
    body = doc["paths"]["/v1/sensors/{sensor_id}/readings"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["items"]["required"] == ["ts_ms", "value", "unit"]


@pytest.mark.parametrize(
    ("credential", "listed", "readings_status"),
    [
        ("integrator", ["gas-1"], 202),
        ("operator", ["gas-1"], 403),  # operators read sensors, integrators feed them
        ("integrator@site:north", [], 404),
        ("integrator@cam-x", [], 404),
        ("integrator@dock", ["gas-1"], 202),  # a camera watching the sensor's area brings it in scope
        ("operator@site:plant", ["gas-1"], 403),
    ],
)
def test_sensors_are_scoped_and_readings_need_write_rights(
    env: Env, credential: str, listed: list[str], readings_status: int
) -> None:
    assert [
        s["id"] for s in env.client.get("/v1/sensors", headers=bearer(credential)).json()["items"]
    ] == listed
    r = env.client.post(
        "/v1/sensors/gas-1/readings",
        json=[{"ts_ms": NOW_MS, "value": 1.0, "unit": GAS["unit"]}],
        headers=bearer(credential),
    )
    assert r.status_code == readings_status


def test_sensor_changes_are_audited(env: Env) -> None:
    spec = {"id": "t-1", "kind": "temperature", "unit": "C"}
    assert env.client.post("/v1/sensors", json=spec).status_code == 201
    assert env.client.delete("/v1/sensors/t-1").status_code == 204
    assert [(a.action, a.target) for a in env.audit.records] == [
        ("sensor.create", "sensor:t-1"),
        ("sensor.delete", "sensor:t-1"),
    ]
