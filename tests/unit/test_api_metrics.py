"""/metrics: per-camera figures from health, offline count, events by type, API latency by route
template, no credentials, a failing store still scraped; the Grafana dashboard only queries what it serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from api.app import create_app
from events.cameras import CameraStatus, OfflineCause
from tests.unit.api_fakes import (
    SECRET,
    T0_MS,
    FakeAuthenticator,
    FakeCameraRegistry,
    FakeEventStore,
    FakeHealthView,
    bearer,
    camera_health,
    camera_spec,
    make_event,
)

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "anfang-dashboard.json"


@pytest.fixture
def store() -> FakeEventStore:
    events = [make_event(ts_ms=T0_MS + i, event_type="zone_intrusion") for i in range(3)]
    events += [make_event(ts_ms=T0_MS + i, event_type="line_crossing") for i in range(2)]
    return FakeEventStore(events)


@pytest.fixture
def health() -> FakeHealthView:
    return FakeHealthView(
        [
            camera_health(
                "gate",
                CameraStatus.ONLINE,
                analysed_fps=9.5,
                decoded_fps=25.0,
                detector_fps=3.25,
                gated_share=0.625,
                frames_dropped=7,
                reconnects=2,
                last_frame_age_s=0.2,
            ),
            camera_health("yard", CameraStatus.OFFLINE, cause=OfflineCause.UNREACHABLE, reconnects=4),
            camera_health("dock", CameraStatus.RECONNECTING),
            camera_health("file", CameraStatus.FINISHED),
            camera_health("ghost", CameraStatus.OFFLINE),  # reported, not registered: not served
        ]
    )


@pytest.fixture
def client(store: FakeEventStore, health: FakeHealthView, tmp_path: Path) -> TestClient:
    registry = FakeCameraRegistry([camera_spec(cid) for cid in ("gate", "yard", "dock", "file", "lobby")])
    return TestClient(
        create_app(store, tmp_path, cameras=registry, health=health, authenticator=FakeAuthenticator()),
        headers=bearer("integrator"),
    )


def scrape(client: TestClient) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    """The raw text and every sample as (name, labels) -> value."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: list[Sample] = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
    return response.text, {(s.name, frozenset(s.labels.items())): s.value for s in samples}


def by_camera(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> dict[str, float]:
    return {dict(labels)["camera_id"]: v for (n, labels), v in samples.items() if n == name}


def test_camera_figures_are_the_health_views(client: TestClient) -> None:
    _, samples = scrape(client)
    assert by_camera(samples, "anfang_camera_analysed_fps") == {
        "gate": 9.5,
        "yard": 0.0,
        "dock": 0.0,
        "file": 0.0,
    }  # "lobby" has no health yet, "ghost" is not registered
    assert by_camera(samples, "anfang_camera_decoded_fps")["gate"] == 25.0
    assert by_camera(samples, "anfang_camera_detector_fps")["gate"] == 3.25
    assert by_camera(samples, "anfang_camera_gated_share")["gate"] == 0.625
    assert by_camera(samples, "anfang_camera_frames_dropped_total")["gate"] == 7
    assert by_camera(samples, "anfang_camera_reconnects_total") == {
        "gate": 2,
        "yard": 4,
        "dock": 0,
        "file": 0,
    }
    assert by_camera(samples, "anfang_camera_last_frame_age_seconds") == {"gate": 0.2}  # None: left out
    up = by_camera(samples, "anfang_camera_up")
    assert up == {"gate": 1, "yard": 0, "dock": 0, "file": 1, "lobby": 0}
    assert samples[("anfang_cameras_offline", frozenset())] == 2  # yard offline, dock reconnecting
    assert samples[("anfang_camera_health_up", frozenset())] == 1


def test_values_are_read_at_scrape_time(client: TestClient, health: FakeHealthView) -> None:
    scrape(client)
    health.health["lobby"] = camera_health("lobby", CameraStatus.OFFLINE)
    _, samples = scrape(client)
    assert samples[("anfang_cameras_offline", frozenset())] == 3
    assert by_camera(samples, "anfang_camera_up")["lobby"] == 0


def test_events_by_type_equal_the_stores_counts(client: TestClient, store: FakeEventStore) -> None:
    _, samples = scrape(client)
    events = {dict(labels)["type"]: v for (n, labels), v in samples.items() if n == "anfang_events_total"}
    assert events == store.count_by_type() == {"zone_intrusion": 3, "line_crossing": 2}
    assert samples[("anfang_store_up", frozenset())] == 1


def test_latency_histogram_is_labelled_by_route_template(client: TestClient) -> None:
    assert client.get("/v1/cameras/gate").status_code == 200
    assert client.get("/v1/cameras/nope").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    text, samples = scrape(client)
    counts = {
        (d["method"], d["route"], d["status"]): v
        for (n, labels), v in samples.items()
        if n == "anfang_api_request_duration_seconds_count"
        for d in [dict(labels)]
    }
    assert counts[("GET", "/v1/cameras/{camera_id}", "200")] == 1
    assert counts[("GET", "/v1/cameras/{camera_id}", "404")] == 1
    assert counts[("GET", "unmatched", "404")] == 1
    assert "/v1/cameras/gate" not in text and "/no/such/path" not in text


def test_no_uri_or_credential_is_served(client: TestClient) -> None:
    client.get("/v1/cameras")
    text, _ = scrape(client)
    assert SECRET not in text and "rtsp://" not in text and "10.0.0.5" not in text and "admin" not in text


def test_a_failing_store_is_reported_not_fatal(
    client: TestClient, store: FakeEventStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.fail = f"connection to clickhouse://default:{SECRET}@db:9000 refused"
    _, samples = scrape(client)
    assert samples[("anfang_store_up", frozenset())] == 0
    assert not any(n == "anfang_events_total" for n, _ in samples)
    assert by_camera(samples, "anfang_camera_up")["gate"] == 1  # the rest is still served
    assert SECRET not in caplog.text


def test_a_failing_health_view_is_reported_not_fatal(client: TestClient, health: FakeHealthView) -> None:
    health.fail = "kafka down"
    _, samples = scrape(client)
    assert samples[("anfang_camera_health_up", frozenset())] == 0
    assert not any(n == "anfang_camera_up" for n, _ in samples)
    assert samples[("anfang_store_up", frozenset())] == 1


def test_without_a_registry_every_reported_camera_is_served(health: FakeHealthView, tmp_path: Path) -> None:
    app = create_app(FakeEventStore(), tmp_path, health=health, authenticator=FakeAuthenticator())
    client = TestClient(app, headers=bearer("integrator"))
    _, samples = scrape(client)
    assert set(by_camera(samples, "anfang_camera_up")) == {"gate", "yard", "dock", "file", "ghost"}
    assert samples[("anfang_cameras_offline", frozenset())] == 3


def test_each_app_has_its_own_registry(store: FakeEventStore, tmp_path: Path) -> None:
    first = TestClient(
        create_app(store, tmp_path, authenticator=FakeAuthenticator()), headers=bearer("integrator")
    )
    second = TestClient(
        create_app(store, tmp_path, authenticator=FakeAuthenticator()), headers=bearer("integrator")
    )
    first.get("/healthz")
    _, samples = scrape(second)
    routes = {dict(labels).get("route") for (n, labels), _ in samples.items() if n.endswith("_count")}
    assert "/healthz" not in routes


def test_dashboard_queries_only_served_metrics(client: TestClient) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["schemaVersion"] >= 36
    assert any(i.get("name") == "DS_PROMETHEUS" for i in dashboard["__inputs"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 7
    client.get("/healthz")  # so the histogram has series
    _, samples = scrape(client)
    served = {n for n, _ in samples}
    queried = {m for e in exprs for m in re.findall(r"\banfang_[a-z_]+", e)}
    assert queried and queried <= served, queried - served
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"


@pytest.mark.parametrize(
    ("credential", "status"),
    [
        ("integrator", 200),
        ("admin", 200),
        ("operator", 403),
        ("auditor", 403),
        ("integrator@gate", 403),
        ("x", 401),
    ],
)
def test_metrics_need_an_unscoped_principal_with_metrics_rights(
    client: TestClient, credential: str, status: int
) -> None:
    assert client.get("/metrics", headers=bearer(credential)).status_code == status


def test_sink_lag_is_served_when_known_and_left_out_when_the_bus_fails(
    store: FakeEventStore, tmp_path: Path
) -> None:
    def failing() -> int:
        raise RuntimeError("Kafka down")

    for sink_lag, expected in ((lambda: 7, 7.0), (failing, None)):
        app = create_app(store, tmp_path, authenticator=FakeAuthenticator(), sink_lag=sink_lag)
        _, samples = scrape(TestClient(app, headers=bearer("integrator")))
        assert samples.get(("anfang_sink_lag_events", frozenset())) == expected
