"""App-wide behaviour: store failures as 503 JSON, the console page, OpenAPI, no shared state.

Liveness and readiness: test_api_health.py; cameras: test_api_cameras.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from api.config import ApiConfig
from tests.unit.api_fakes import T0_MS, FakeAuthenticator, FakeEventStore, attach_snapshot, bearer, make_event


@pytest.fixture
def store(tmp_path: Path) -> FakeEventStore:
    event, _ = attach_snapshot(tmp_path, make_event(ts_ms=T0_MS), seed=1)
    return FakeEventStore([event])


@pytest.mark.parametrize(
    "path",
    [
        "/v1/events",
        "/v1/alerts",
        "/v1/alerts/counts",
        "/v1/events/00000000-0000-0000-0000-000000000001",
        "/v1/events/00000000-0000-0000-0000-000000000001/snapshot",
    ],
)
def test_store_error_is_503_json_without_traceback(store: FakeEventStore, tmp_path: Path, path: str) -> None:
    store.fail = "server 127.0.0.1:9000 went away"
    app = create_app(store, tmp_path, authenticator=FakeAuthenticator())
    r = TestClient(app, raise_server_exceptions=False).get(path, headers=bearer("operator"))
    assert r.status_code == 503
    assert r.json() == {"detail": "store unavailable: server 127.0.0.1:9000 went away"}
    assert "Traceback" not in r.text


def test_console_page(store: FakeEventStore, tmp_path: Path) -> None:
    """The page and its module script load from this origin only (details: test_console_page.py)."""
    app = create_app(store, tmp_path, config=ApiConfig(console_refresh_s=2.5))
    client = TestClient(app)
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<script type="module" src="/static/app.js"></script>' in html
    assert 'content="2500"' in html and "__REFRESH_MS__" not in html
    for view in ("signin", "alerts", "cameras", "history", "audit", "users"):
        assert f'<section id="view-{view}"' in html
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")


def test_openapi_served_and_cdn_docs_off_by_default(store: FakeEventStore, tmp_path: Path) -> None:
    client = TestClient(create_app(store, tmp_path, title="t", version="9.9"))
    spec = client.get("/openapi.json").json()
    assert spec["info"] == {"title": "t", "version": "9.9", "description": spec["info"]["description"]}
    assert {
        "/healthz",
        "/readyz",
        "/v1/cameras",
        "/v1/cameras/{camera_id}",
        "/v1/events",
        "/v1/events/{event_id}",
        "/v1/events/{event_id}/snapshot",
        "/v1/alerts",
    } <= set(spec["paths"])
    assert "/" not in spec["paths"]
    assert client.get("/docs").status_code == 404
    assert TestClient(create_app(store, tmp_path, docs_url="/docs")).get("/docs").status_code == 200


def test_apps_share_no_state(tmp_path: Path) -> None:
    auth = FakeAuthenticator()
    a = TestClient(create_app(FakeEventStore([make_event(ts_ms=T0_MS)]), tmp_path, authenticator=auth))
    b = TestClient(
        create_app(FakeEventStore(), tmp_path, config=ApiConfig(page_limit_default=2), authenticator=auth)
    )
    a.headers.update(bearer("auditor"))
    b.headers.update(bearer("auditor"))
    assert (a.get("/v1/events").json()["total"], b.get("/v1/events").json()["total"]) == (1, 0)
    assert (a.get("/v1/events").json()["limit"], b.get("/v1/events").json()["limit"]) == (50, 2)


def test_config_rejects_default_above_max() -> None:
    with pytest.raises(ValidationError, match="page_limit_default"):
        ApiConfig(page_limit_default=600, page_limit_max=500)
