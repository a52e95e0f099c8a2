"""The server the browser tests drive: a real uvicorn serving `api.app.create_app` in a thread on a free
port, over the real parts of an embedded deployment: a chDB store, the sign-in service and its
authenticator, the alert-state store, the hash-chained audit log, the in-process bus with its sink
thread, and the live broadcaster the bus feeds (`BroadcastingPublisher`), a camera registry, the
workers' health view, and the face watchlists and plate hotlists wired as `anfang serve` wires them.
Nothing here is a test double; events enter through the bus as a pipeline's do.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from anfang.change_wiring import close_all
from anfang.face_wiring import face_api_kwargs, start_faces
from anfang.reader_wiring import hotlist_api_kwargs, start_readers
from anfang.settings import Settings
from anfang.wiring import event_types_for_api
from api.app import create_app
from api.auth.admin import Actor
from api.auth.authenticator import TokenAuthenticator
from api.auth.config import AuthConfig
from api.auth.passwords import Passwords
from api.auth.service import AuthService
from api.auth.tokens import AccessTokens
from api.config import ApiConfig
from api.sensor_services import SensorService
from events.auth import CameraScope, Role
from events.bus.broadcast import BroadcastingPublisher, EventBroadcaster
from events.bus.inproc import InProcessBus
from events.cameras import CameraHealth, CameraStatus, WorkerHeartbeat
from events.ports import EventQuery
from events.registry.file_registry import FileCameraRegistry
from events.registry.inproc_health import InProcessHealth
from events.schema import Event, Severity
from events.sensors import SensorKind, SensorRegistry, SensorSpec
from events.sink import run_sink
from events.store.alert_state_sql import AlertStateSqlStore
from events.store.audit_sql import HashChainedAuditLog
from events.store.auth_sql import AuthSqlStore
from events.store.chdb_store import ChdbStore
from events.store.faces_sql import FaceSqlStore
from events.store.hotlists_sql import HotlistSqlStore
from pipelines.sop import sop_lookup
from tests.unit.api_fakes import attach_snapshot, make_event

logger = logging.getLogger(__name__)

#: Cheap password hashing: the tests sign in a few times, argon2's production cost is not under test.
FAST_AUTH = AuthConfig(argon2_time_cost=1, argon2_memory_kib=8192, argon2_parallelism=1)
SOP_TEXT = "Call the gate guard on channel 2, check the camera, then resolve."


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    password: str
    role: Role
    scope: CameraScope = field(default_factory=CameraScope)


ACCOUNTS = {
    "operator": Account("op-anna", "op-anna-password-1", Role.OPERATOR),
    "auditor": Account("aud-bo", "aud-bo-password-1", Role.AUDITOR),
    "scoped": Account("op-cam-a", "op-cam-a-password-1", Role.OPERATOR, CameraScope(cameras=("cam-a",))),
    "admin": Account("admin-chen", "admin-chen-password-1", Role.ADMIN),
    "integrator": Account("int-dai", "int-dai-password-1", Role.INTEGRATOR),
}
CAMERAS = {"cam-a": "north", "cam-b": "south"}  # camera -> site
SENSORS = {"gas-north": "cam-a", "gas-south": "cam-b"}  # sensor -> the camera watching its area


@dataclass
class ConsoleServer:
    """The running server: its URL, the store, and `publish` (an event onto the bus, as a pipeline does)."""

    base_url: str
    data_dir: Path
    store: ChdbStore
    publisher: BroadcastingPublisher
    broadcaster: EventBroadcaster
    face_store: FaceSqlStore
    hotlist_store: HotlistSqlStore
    _seq: int = 0

    def publish(self, event: Event) -> None:
        self.publisher.publish(event)

    def alert(self, camera_id: str, *, snapshot: bool = True, label: str = "person") -> Event:
        """A new zone-intrusion alert on `camera_id` (unique id, now), with a snapshot file when asked."""
        self._seq += 1
        event = make_event(
            ts_ms=int(time.time() * 1000),
            camera_id=camera_id,
            site_id=CAMERAS.get(camera_id, "hq"),
            track_id=self._seq,
            label=label,
            severity=Severity.HIGH,
            event_id=uuid.uuid4(),
        )
        if snapshot:
            event, _ = attach_snapshot(self.data_dir, event, seed=self._seq)
        return event

    def wait_stored(self, event: Event, timeout_s: float = 5.0) -> None:
        """Until the sink has written `event` (the API reads the store)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.store.get(event.event_id) is not None:
                return
            time.sleep(0.02)
        raise TimeoutError(f"event {event.event_id} not stored within {timeout_s} s")

    def stored_alerts(self, camera_id: str) -> int:
        return self.store.query(EventQuery(camera_id=camera_id, alerts_only=True, limit=1)).total


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _camera_spec(camera_id: str, site_id: str) -> dict[str, object]:
    return {
        "id": camera_id,
        "uri": f"rtsp://127.0.0.1:8554/{camera_id}",
        "site_id": site_id,
        "zones": [{"id": "gate", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
        "rules": [{"id": "gate-intrusion", "type": "zone_intrusion", "zone": "gate", "sop": SOP_TEXT}],
    }


def _health(now_ms: int) -> WorkerHeartbeat:
    return WorkerHeartbeat(
        worker_id="worker-a",
        ts_ms=now_ms,
        cameras=[
            CameraHealth(
                camera_id="cam-a", status=CameraStatus.ONLINE, worker_id="worker-a", analysed_fps=9.8
            ),
            CameraHealth(camera_id="cam-b", status=CameraStatus.OFFLINE, worker_id="worker-a"),
        ],
    )


def _list_kwargs(
    stack: ExitStack, store: ChdbStore, data_dir: Path, audit: HashChainedAuditLog
) -> dict[str, Any]:
    """`create_app`'s face watchlist and plate hotlist arguments, wired as `anfang serve` wires them
    embedded (the real dlib face model, loaded at the first enrolment; the process's gallery and book)."""
    settings = Settings(data_dir=data_dir, mode="embedded")
    faces, readers = start_faces(settings, store), start_readers(settings, store)
    closers: list[Callable[[], None]] = [faces.close, readers.close]
    stack.callback(close_all, closers)
    return face_api_kwargs(faces, settings, store, audit, closers) | hotlist_api_kwargs(
        readers, settings, store, audit, closers
    )


@contextmanager
def run_console_server(data_dir: Path) -> Iterator[ConsoleServer]:
    """Builds every part, creates the accounts and cameras, serves, and tears it all down afterwards."""
    with ExitStack() as stack:
        store = ChdbStore(data_dir / "chdb")
        stack.callback(store.close)
        store.ensure_schema()
        audit = HashChainedAuditLog(store, chain_id="browser-tests")
        audit.ensure_schema()
        alert_states = AlertStateSqlStore(store)
        alert_states.ensure_schema()
        auth_store = AuthSqlStore(store)
        auth_store.ensure_schema()
        tokens = AccessTokens(FAST_AUTH, os.urandom(32))
        authenticator = TokenAuthenticator(auth_store, tokens, FAST_AUTH)
        service = AuthService(
            auth_store,
            FAST_AUTH,
            passwords=Passwords(FAST_AUTH),
            tokens=tokens,
            audit=audit,
            authenticator=authenticator,
        )
        for account in ACCOUNTS.values():
            service.create_user(
                account.username, account.role, account.password, account.scope, actor=Actor("test", "", "")
            )
        registry = FileCameraRegistry(data_dir / "cameras.json")
        stack.callback(registry.close)
        for camera_id, site_id in CAMERAS.items():
            registry.put(_camera_spec(camera_id, site_id))
        sensor_backend = FileCameraRegistry(data_dir / "sensors.json")
        stack.callback(sensor_backend.close)
        sensors = SensorRegistry(sensor_backend)
        for sensor_id, camera_id in SENSORS.items():
            sensors.put(
                SensorSpec(
                    id=sensor_id,
                    kind=SensorKind.GAS,
                    unit="ppm",
                    site_id=CAMERAS[camera_id],
                    camera_ids=[camera_id],
                )
            )
        health = InProcessHealth(stale_after_s=3600)
        health.publish(_health(int(time.time() * 1000)))

        broadcaster = EventBroadcaster()
        bus = InProcessBus(10_000)
        stop_sink = threading.Event()
        sink = threading.Thread(
            target=run_sink,
            kwargs={
                "consumer": bus.consumer(),
                "store": store,
                "batch_max": 100,
                "batch_wait_s": 0.02,
                "stop": stop_sink,
            },
            name="browser-tests-sink",
            daemon=True,
        )
        sink.start()
        stack.callback(sink.join, 10)
        stack.callback(stop_sink.set)
        publisher = BroadcastingPublisher(bus.publisher(), broadcaster)

        app = create_app(
            store,
            data_dir,
            config=ApiConfig(console_refresh_s=1.0),
            cameras=registry,
            health=health,
            event_types=event_types_for_api(),
            sensors=SensorService(sensors, sink=None, readings=store),
            authenticator=authenticator,
            audit=audit,
            auth_service=service,
            audit_log=audit,
            broadcaster=broadcaster,
            alert_states=alert_states,
            rule_sops=sop_lookup(registry),
            **_list_kwargs(stack, store, data_dir, audit),
        )
        sock = _free_socket()
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                app, log_level="warning", ws="websockets-sansio", lifespan="off", timeout_graceful_shutdown=2
            )
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

        def stop_server() -> None:
            server.should_exit = True
            thread.join(10)
            sock.close()

        stack.callback(stop_server)
        logger.info("console under test at http://127.0.0.1:%d/", port)
        yield ConsoleServer(
            base_url=f"http://127.0.0.1:{port}",
            data_dir=data_dir,
            store=store,
            publisher=publisher,
            broadcaster=broadcaster,
            face_store=app.state.ctx.face_store,
            hotlist_store=app.state.ctx.hotlist_store,
        )
