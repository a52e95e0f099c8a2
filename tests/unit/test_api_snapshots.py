"""/v1/events/{id}/snapshot: verified bytes only; tampering is 409, escapes from the data folder 400."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig
from events.schema import Event, Snapshot
from tests.unit.api_fakes import (
    T0_MS,
    FakeAuthenticator,
    FakeEventStore,
    ListAuditSink,
    attach_snapshot,
    bearer,
    jpeg_bytes,
    make_event,
)


def client_for(
    store: FakeEventStore, data_dir: Path, credential: str = "operator", **kwargs: Any
) -> TestClient:
    app = create_app(store, data_dir, authenticator=FakeAuthenticator(), **kwargs)
    return TestClient(app, headers=bearer(credential))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def test_serves_verified_jpeg(data_dir: Path) -> None:
    event, content = attach_snapshot(data_dir, make_event(ts_ms=T0_MS), seed=3)
    client = client_for(FakeEventStore([event]), data_dir)
    r = client.get(f"/v1/events/{event.event_id}/snapshot")
    assert r.status_code == 200, r.text
    assert r.content == content
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-content-sha256"] == hashlib.sha256(content).hexdigest()
    image = cv2.imdecode(np.frombuffer(r.content, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (90, 160, 3)


def _with_uri(event: Event, uri: str, content: bytes) -> Event:
    snap = Snapshot(uri=uri, sha256=hashlib.sha256(content).hexdigest())
    return event.model_copy(update={"snapshot": snap})


def _outside_file(data_dir: Path) -> bytes:
    """A valid JPEG next to (not inside) the data folder: only the path check can refuse it."""
    content = jpeg_bytes(9)
    (data_dir.parent / "secret.jpg").write_bytes(content)
    return content


def tampered(data_dir: Path, event: Event) -> Event:
    assert event.snapshot is not None
    (data_dir / event.snapshot.uri).write_bytes(jpeg_bytes(42))
    return event


def deleted(data_dir: Path, event: Event) -> Event:
    assert event.snapshot is not None
    (data_dir / event.snapshot.uri).unlink()
    return event


def no_snapshot(data_dir: Path, event: Event) -> Event:
    return event.model_copy(update={"snapshot": None})


def dot_dot(data_dir: Path, event: Event) -> Event:
    return _with_uri(event, "../secret.jpg", _outside_file(data_dir))


def nested_dot_dot(data_dir: Path, event: Event) -> Event:
    return _with_uri(event, "snapshots/../../secret.jpg", _outside_file(data_dir))


def absolute(data_dir: Path, event: Event) -> Event:
    content = _outside_file(data_dir)
    return _with_uri(event, str(data_dir.parent / "secret.jpg"), content)


def symlink_out(data_dir: Path, event: Event) -> Event:
    content = _outside_file(data_dir)
    (data_dir / "link.jpg").symlink_to(data_dir.parent / "secret.jpg")
    return _with_uri(event, "link.jpg", content)


def directory(data_dir: Path, event: Event) -> Event:
    return _with_uri(event, "snapshots", b"")


def data_dir_itself(data_dir: Path, event: Event) -> Event:
    return _with_uri(event, ".", b"")


FAILURES: list[tuple[Callable[[Path, Event], Event], int, str]] = [
    (tampered, 409, "fails its integrity check"),
    (deleted, 404, "snapshot file missing"),
    (no_snapshot, 404, "has no snapshot"),
    (dot_dot, 400, "outside the data folder"),
    (nested_dot_dot, 400, "outside the data folder"),
    (absolute, 400, "outside the data folder"),
    (symlink_out, 400, "outside the data folder"),
    (directory, 400, "names a directory"),
    (data_dir_itself, 400, "outside the data folder"),
]


@pytest.mark.parametrize(("mutate", "status", "message"), FAILURES, ids=[f[0].__name__ for f in FAILURES])
def test_snapshot_failures(
    data_dir: Path, mutate: Callable[[Path, Event], Event], status: int, message: str
) -> None:
    event, _ = attach_snapshot(data_dir, make_event(ts_ms=T0_MS), seed=5)
    event = mutate(data_dir, event)
    client = client_for(FakeEventStore([event]), data_dir)
    r = client.get(f"/v1/events/{event.event_id}/snapshot")
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert message in r.json()["detail"]
    assert "x-content-sha256" not in r.headers


def test_integrity_failure_is_logged(data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    event, _ = attach_snapshot(data_dir, make_event(ts_ms=T0_MS), seed=5)
    tampered(data_dir, event)
    client = client_for(FakeEventStore([event]), data_dir)
    with caplog.at_level(logging.ERROR, logger="api.services"):
        assert client.get(f"/v1/events/{event.event_id}/snapshot").status_code == 409
    assert any(
        "evidence integrity" in r.getMessage() and str(event.event_id) in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize(("max_bytes", "status"), [(10, 500), (10_000_000, 200)])
def test_size_limit_is_a_setting(data_dir: Path, max_bytes: int, status: int) -> None:
    event, _ = attach_snapshot(data_dir, make_event(ts_ms=T0_MS), seed=5)
    config = ApiConfig(snapshot_max_bytes=max_bytes)
    r = client_for(FakeEventStore([event]), data_dir, config=config).get(
        f"/v1/events/{event.event_id}/snapshot"
    )
    assert r.status_code == status
    if status == 500:
        assert "larger than the serving limit of 10 bytes" in r.json()["detail"]


def test_unknown_event_is_404(data_dir: Path) -> None:
    r = client_for(FakeEventStore(), data_dir).get("/v1/events/00000000-0000-0000-0000-000000000001/snapshot")
    assert r.status_code == 404
    assert "not found" in r.json()["detail"]


@pytest.mark.parametrize(
    ("credential", "purpose", "status", "audited_purpose"),
    [
        ("operator", None, 200, "alert handling"),
        ("operator", "incident 42", 200, "incident 42"),
        ("auditor", "quarterly review", 200, "quarterly review"),
        ("admin", "investigation", 200, "investigation"),
        ("auditor", None, 403, ""),
        ("admin", None, 403, ""),
    ],
)
def test_each_view_is_audited_with_its_purpose(
    data_dir: Path, credential: str, purpose: str | None, status: int, audited_purpose: str
) -> None:
    event, _ = attach_snapshot(data_dir, make_event(ts_ms=T0_MS), seed=5)
    audit = ListAuditSink()
    client = client_for(FakeEventStore([event]), data_dir, credential, audit=audit)
    params = {} if purpose is None else {"purpose": purpose}
    r = client.get(f"/v1/events/{event.event_id}/snapshot", params=params)
    assert r.status_code == status, r.text
    (record,) = [x for x in audit.records if x.action == "snapshot.view"]
    assert (record.actor, record.target, record.purpose) == (
        f"test-{credential}",
        f"event:{event.event_id}",
        audited_purpose,
    )
    assert record.outcome == ("ok" if status == 200 else "denied")
    if status == 403:
        assert "purpose" in r.json()["detail"]


@pytest.mark.parametrize("credential", ["operator@cam-2", "auditor@site:north", "operator@cam-3,site:south"])
def test_a_scoped_user_gets_404_for_another_cameras_snapshot(data_dir: Path, credential: str) -> None:
    event, _ = attach_snapshot(data_dir, make_event(ts_ms=T0_MS, camera_id="cam-1", site_id="hq"), seed=5)
    audit = ListAuditSink()
    client = client_for(FakeEventStore([event]), data_dir, credential, audit=audit)
    r = client.get(f"/v1/events/{event.event_id}/snapshot", params={"purpose": "look"})
    missing = client.get(f"/v1/events/{uuid.UUID(int=7)}/snapshot", params={"purpose": "look"})
    assert (r.status_code, missing.status_code) == (404, 404)
    assert r.json()["detail"] == missing.json()["detail"].replace(str(uuid.UUID(int=7)), str(event.event_id))
    assert [x.outcome for x in audit.records if x.action == "snapshot.view"] == ["failed", "failed"]
    ok = client_for(FakeEventStore([event]), data_dir, "operator@cam-1")
    assert ok.get(f"/v1/events/{event.event_id}/snapshot").status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"), [({}, 401), (bearer("forged"), 401), (bearer("integrator"), 403)]
)
def test_who_may_view_snapshots(data_dir: Path, headers: dict[str, str], status: int) -> None:
    event, _ = attach_snapshot(data_dir, make_event(ts_ms=T0_MS), seed=5)
    client = TestClient(create_app(FakeEventStore([event]), data_dir, authenticator=FakeAuthenticator()))
    r = client.get(f"/v1/events/{event.event_id}/snapshot", headers=headers)
    assert r.status_code == status
    assert "x-content-sha256" not in r.headers
