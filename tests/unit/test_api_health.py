"""/healthz is liveness (no dependency queried); /readyz runs the store check and the injected ones."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig
from events.cameras import CameraStatus, OfflineCause
from events.ports import EventPage, EventQuery
from tests.unit.api_fakes import (
    FakeAuthenticator,
    FakeCameraRegistry,
    FakeEventStore,
    FakeHealthView,
    bearer,
    camera_health,
    camera_spec,
)


class BrokenQueryStore(FakeEventStore):
    def query(self, q: EventQuery) -> EventPage:
        raise ConnectionRefusedError("connection refused by 127.0.0.1:9000")


def broken_store(kind: str) -> FakeEventStore:
    if kind == "store_error":
        store = FakeEventStore()
        store.fail = "chdb is locked"
        return store
    return BrokenQueryStore()


@pytest.mark.parametrize("store_state", ["ok", "store_error", "other_error"])
def test_healthz_is_liveness_whatever_the_store(tmp_path: Path, store_state: str) -> None:
    store = FakeEventStore() if store_state == "ok" else broken_store(store_state)
    r = TestClient(create_app(store, tmp_path)).get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    assert not getattr(store, "queries", [])  # liveness asks nothing of the store


def test_readyz_ok_with_the_store_alone(tmp_path: Path) -> None:
    store = FakeEventStore()
    r = TestClient(create_app(store, tmp_path)).get("/readyz")
    assert (r.status_code, r.json()) == (200, {"status": "ready", "checks": {"store": "ok"}})
    assert len(store.queries) == 1


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        ("store_error", "error: StoreError: chdb is locked"),
        ("other_error", "error: ConnectionRefusedError: connection refused by 127.0.0.1:9000"),
    ],
)
def test_readyz_503_when_the_store_fails(
    tmp_path: Path, kind: str, cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(create_app(broken_store(kind), tmp_path))
    for _ in range(3):
        r = client.get("/readyz")
        assert (r.status_code, r.json()) == (503, {"status": "unready", "checks": {"store": cause}})
    # one log line per change of state, not one per probe
    lines = [r.getMessage() for r in caplog.records if r.name == "api.readiness"]
    assert lines == [f"not ready: store: {cause.removeprefix('error: ')}"]


def _raise() -> str | None:
    raise TimeoutError("no broker at kafka://admin:hunter2@127.0.0.1:9092")


READY_CASES: list[tuple[str, dict[str, Callable[[], str | None]], int, dict[str, str]]] = [
    ("bus ok", {"bus": lambda: None}, 200, {"bus": "ok", "store": "ok"}),
    (
        "bus down",
        {"bus": lambda: "no broker reachable at 127.0.0.1:9092"},
        503,
        {"bus": "error: no broker reachable at 127.0.0.1:9092", "store": "ok"},
    ),
    (
        "check raises, credentials redacted",
        {"bus": _raise},
        503,
        {"bus": "error: TimeoutError: no broker at kafka://admin:***@127.0.0.1:9092", "store": "ok"},
    ),
    (
        "empty cause is a failure",
        {"bus": lambda: ""},
        503,
        {"bus": "error: failed (no cause given)", "store": "ok"},
    ),
    ("store check replaced", {"store": lambda: "replica lag"}, 503, {"store": "error: replica lag"}),
]


@pytest.mark.parametrize(
    ("case", "checks", "status", "expected"), READY_CASES, ids=[c[0] for c in READY_CASES]
)
def test_readyz_runs_the_injected_checks(
    tmp_path: Path,
    case: str,
    checks: dict[str, Callable[[], str | None]],
    status: int,
    expected: dict[str, str],
) -> None:
    r = TestClient(create_app(FakeEventStore(), tmp_path, readiness_checks=checks)).get("/readyz")
    assert r.status_code == status
    assert r.json() == {"status": "ready" if status == 200 else "unready", "checks": expected}


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # never leave a check thread hanging


def test_readyz_does_not_hang_on_a_hung_check(tmp_path: Path, gate: threading.Event) -> None:
    calls: list[float] = []

    def hung() -> str | None:
        calls.append(time.monotonic())
        gate.wait(10)
        return None

    app = create_app(
        FakeEventStore(), tmp_path, readiness_checks={"bus": hung}, config=ApiConfig(readiness_timeout_s=0.2)
    )
    client = TestClient(app)
    t0 = time.monotonic()
    first, second = client.get("/readyz"), client.get("/readyz")
    assert time.monotonic() - t0 < 2
    for r in (first, second):
        assert r.status_code == 503
        assert r.json()["checks"] == {"bus": "error: no answer within 0.2 s", "store": "ok"}
    assert len(calls) == 1  # the hung check is waited on again, not started twice
    gate.set()
    deadline = time.monotonic() + 5
    while (r := client.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.json() == {"status": "ready", "checks": {"bus": "ok", "store": "ok"}}


def test_offline_cameras_do_not_make_the_api_unready(tmp_path: Path) -> None:
    registry = FakeCameraRegistry([camera_spec("gate")])
    health = FakeHealthView([camera_health("gate", CameraStatus.OFFLINE, cause=OfflineCause.STALLED)])
    app = create_app(
        FakeEventStore(), tmp_path, cameras=registry, health=health, authenticator=FakeAuthenticator()
    )
    client = TestClient(app)
    assert client.get("/v1/cameras/gate", headers=bearer("operator")).json()["status"] == "offline"
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200
