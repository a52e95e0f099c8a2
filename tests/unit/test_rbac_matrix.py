"""The RBAC matrix, generated from the app itself: every route, every role, no / expired / forged
token and another camera's scope get the status the route's declared permission implies.

A route is public (listed below), signed-in only (depends on `get_principal` alone) or guarded by a
`PermissionCheck` (`require(...)`). A new route that is none of these fails
`test_every_route_declares_its_access`; a guarded route that answers a role it should refuse (or
refuses one it should serve) fails the matrix.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from api.deps import PermissionCheck, get_principal
from api.principal import ROLE_PERMISSIONS, Permission
from api.routes.live import STREAMING_EXTENSION
from api.sensor_services import SensorService
from events.alert_state import MemoryAlertStateStore
from events.audit import AuditPage, AuditQuery, AuditVerification
from events.auth import Role
from events.bus.broadcast import EventBroadcaster
from events.registry.file_registry import FileCameraRegistry
from events.sensors import ReadingLimits, SensorRegistry, SensorSpec
from pipelines.sensors.config import SensorHubConfig
from pipelines.sensors.hub import EmbeddedSensorHub, SensorHub
from tests.unit.api_fakes import (
    T0_MS,
    FakeCameraRegistry,
    FakeEventStore,
    FakeHealthView,
    ListAuditSink,
    camera_spec,
    fake_validate_camera,
    make_event,
)
from tests.unit.auth_fakes import CLI, make_rig
from tests.unit.face_fakes import ColourEncoder, ExactSearcher, MemoryFaceStore, RecordingGallery
from tests.unit.hotlist_fakes import MemoryHotlistStore, RecordingHotlists
from tests.unit.publishers import Collect
from tests.unit.test_sensors_api import MemoryReadings

#: Routes anybody may call: probes, the console page and its assets, the OpenAPI document, sign-in.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/auth/token"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
}
PUBLIC_PREFIXES = ("/static",)  # the console's own files

ROLES = tuple(Role)
OTHER_SITE_CAMERA = "cam-b"  # the scoped users see only this one; every path parameter names cam-a's


@dataclass(frozen=True)
class Access:
    kind: str  # "public" | "signed_in" | "guarded"
    permissions: frozenset[Permission] = frozenset()

    def allows(self, role: Role) -> bool:
        return self.kind != "guarded" or self.permissions <= ROLE_PERMISSIONS[role]


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str  # the template with the router's prefix, e.g. /v1/cameras/{camera_id}
    route: APIRoute | APIWebSocketRoute


def all_routes(app: FastAPI) -> list[RouteInfo]:
    """Every endpoint with its full path (routers included with a prefix are expanded)."""
    found = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIWebSocketRoute):
            found.append(RouteInfo("WEBSOCKET", str(ctx.path), route))
        elif isinstance(route, APIRoute):
            found.extend(
                RouteInfo(m, str(ctx.path), route) for m in sorted((ctx.methods or set()) - {"HEAD"})
            )
    return sorted(found, key=lambda r: (r.path, r.method))


def declared_access(route: APIRoute | APIWebSocketRoute) -> Access:
    checks: list[PermissionCheck] = []
    principal = False
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, PermissionCheck):
            checks.append(dep.call)
        principal = principal or dep.call is get_principal
        stack.extend(dep.dependencies)
    if checks:
        return Access("guarded", frozenset().union(*(c.permissions for c in checks)))
    return Access("signed_in") if principal else Access("public")


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC or path.startswith(PUBLIC_PREFIXES)


@dataclass
class Rig:
    app: FastAPI
    client: TestClient
    tokens: dict[str, str]  # role name, "scoped-<role>", "expired", "forged" -> access token
    event_id: uuid.UUID
    key_id: str


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("rbac")
    auth = make_rig()
    for role in ROLES:
        auth.add_user(f"user-{role.value}", role.value)
        auth.add_user(f"scoped-{role.value}", role.value, cameras=(OTHER_SITE_CAMERA,))
    key, _ = auth.service.create_key("k", Role.INTEGRATOR, actor=CLI)
    expired = auth.tokens.issue("user-admin", Role.ADMIN)
    auth.clock.advance(auth.config.access_token_ttl_s + 60)
    tokens = {r.value: auth.tokens.issue(f"user-{r.value}", r) for r in ROLES}
    tokens |= {f"scoped-{r.value}": auth.tokens.issue(f"scoped-{r.value}", r) for r in ROLES}
    tokens["expired"] = expired
    tokens["forged"] = jwt.encode(
        {"sub": "user-admin", "role": "admin", "typ": "access", "iss": "anfang", "exp": 4102444800},
        "not-the-key-" * 4,
        algorithm="HS256",
    )
    alert = make_event(ts_ms=T0_MS, camera_id="cam-a", site_id="north", alert=True)
    store = FakeEventStore(
        [alert, make_event(ts_ms=T0_MS + 1, camera_id="cam-b", site_id="south", alert=True)]
    )
    registry = FakeCameraRegistry(
        [camera_spec("cam-a", site_id="north"), camera_spec("cam-b", site_id="south")]
    )
    sensor_registry = SensorRegistry(FileCameraRegistry(tmp / "sensors.json"))
    sensor_registry.put(SensorSpec.model_validate(SENSOR))
    readings = MemoryReadings()
    hub = EmbeddedSensorHub(SensorHub(sensor_registry, Collect(), SensorHubConfig(), "w"), readings)
    hub.start()
    faces = MemoryFaceStore()
    app = create_app(
        store,
        tmp,
        cameras=registry,
        health=FakeHealthView([]),
        validate_camera=fake_validate_camera,
        sensors=SensorService(sensor_registry, sink=hub, readings=readings, limits=ReadingLimits()),
        authenticator=auth.authenticator,
        auth_service=auth.service,
        audit=ListAuditSink(),
        audit_log=EmptyAuditLog(),
        alert_states=MemoryAlertStateStore(),
        broadcaster=EventBroadcaster(),
        face_store=faces,
        gallery=RecordingGallery(),
        face_encoder=ColourEncoder(),
        face_searcher=ExactSearcher(faces),
        hotlist_store=MemoryHotlistStore(),
        hotlists=RecordingHotlists(),
    )
    client = TestClient(app, raise_server_exceptions=False)
    try:
        yield Rig(app, client, tokens, alert.event_id, key.key_id)
    finally:
        hub.stop()


SENSOR = {"id": "gas-a", "kind": "gas", "unit": "ppm", "site_id": "north", "camera_ids": ["cam-a"]}


class EmptyAuditLog:
    def query(self, q: AuditQuery) -> AuditPage:
        return AuditPage(rows=[], next_cursor=None)

    def verify(self) -> AuditVerification:
        return AuditVerification(ok=True, rows=0, problems=[], chains=[])


def _path(template: str, rig: Rig) -> str:
    values = {
        "camera_id": "cam-a",
        "event_id": str(rig.event_id),
        "sensor_id": "gas-a",
        "username": "user-operator",
        "key_id": rig.key_id,
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "x"), template)


#: Valid bodies where a route needs one to get past validation to its scope check.
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/v1/cameras/{camera_id}"): camera_spec("cam-a", site_id="north"),
    ("PUT", "/v1/sensors/{sensor_id}"): SENSOR,
    ("POST", "/v1/sensors/{sensor_id}/readings"): [{"ts_ms": T0_MS, "value": 1.0, "unit": "ppm"}],
    ("POST", "/v1/alerts/{event_id:uuid}/actions"): {"action": "comment", "comment": "matrix"},
    ("POST", "/v1/alerts/{event_id:uuid}/not-this-person"): {"purpose": "rbac matrix"},
    ("POST", "/v1/watchlists"): {"name": "rbac", "purpose": "rbac matrix"},
    ("PATCH", "/v1/watchlists/{watchlist_id}"): {"purpose": "rbac matrix", "threshold": 0.4},
    ("POST", "/v1/hotlists"): {"name": "rbac"},
    ("PATCH", "/v1/hotlists/{hotlist_id}"): {"severity": "low"},
    ("POST", "/v1/hotlists/{hotlist_id}/entries"): [{"pattern": "京A12345"}],
}
#: Query parameters a route needs to get past validation to its scope check.
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/v1/events/{event_id}/snapshot"): {"purpose": "rbac matrix"},
    ("GET", "/v1/events/export"): {"purpose": "rbac matrix", "format": "csv"},
    ("GET", "/v1/events/{event_id}/snapshot/original"): {"purpose": "rbac matrix"},
    ("DELETE", "/v1/watchlists/{watchlist_id}"): {"purpose": "rbac matrix"},
    ("DELETE", "/v1/watchlists/{watchlist_id}/identities/{identity_id}"): {"purpose": "rbac matrix"},
    ("GET", "/v1/watchlists/{watchlist_id}/identities/{identity_id}/faces/{embedding_id}/image"): {
        "purpose": "rbac matrix"
    },
}
SCOPED_PARAMS = ("{camera_id", "{event_id", "{sensor_id")


def http_routes(app: FastAPI) -> list[tuple[str, str, APIRoute | APIWebSocketRoute]]:
    return [(r.method, r.path, r.route) for r in all_routes(app) if r.method != "WEBSOCKET"]


def _streams(route: APIRoute | APIWebSocketRoute) -> bool:
    return isinstance(route, APIRoute) and bool((route.openapi_extra or {}).get(STREAMING_EXTENSION))


def call(rig: Rig, method: str, template: str, credential: str | None) -> int:
    headers = {} if credential is None else {"Authorization": f"Bearer {rig.tokens[credential]}"}
    body = BODIES.get((method, template), {} if method in ("POST", "PUT", "PATCH") else None)
    params = QUERIES.get((method, template), {})
    response = rig.client.request(method, _path(template, rig), headers=headers, params=params, json=body)
    return int(response.status_code)


def test_every_route_declares_its_access(rig: Rig) -> None:
    undeclared = [
        f"{method} {path}"
        for method, path, route in http_routes(rig.app)
        if declared_access(route).kind == "public" and not is_public(method, path)
    ]
    assert undeclared == [], "routes without require(...) / CurrentUser and not listed public"
    sockets = [r for r in all_routes(rig.app) if r.method == "WEBSOCKET"]
    assert [r.path for r in sockets] == ["/v1/alerts/live"]
    assert all(declared_access(r.route).kind == "guarded" for r in sockets)


def test_public_routes_need_no_token(rig: Rig) -> None:
    for method, path in PUBLIC - {("POST", "/v1/auth/token"), ("POST", "/v1/auth/refresh")}:
        if method == "GET":
            assert rig.client.get(path).status_code == 200, path


@pytest.mark.parametrize("credential", [None, "expired", "forged"])
def test_no_expired_or_forged_token_is_401_everywhere(rig: Rig, credential: str | None) -> None:
    wrong = {
        f"{method} {path}": status
        for method, path, route in http_routes(rig.app)
        if not is_public(method, path) and (status := call(rig, method, path, credential)) != 401
    }
    assert wrong == {}


@pytest.mark.parametrize("role", [r.value for r in ROLES])
def test_each_role_gets_exactly_what_its_permissions_allow(rig: Rig, role: str) -> None:
    wrong = {}
    for method, path, route in http_routes(rig.app):
        if is_public(method, path):
            continue
        access = declared_access(route)
        allowed = access.allows(Role(role))
        if allowed and _streams(route):
            continue  # an endless stream: its own tests read it
        status = call(rig, method, path, role)
        if (allowed and status in (401, 403)) or (not allowed and status != 403):
            wrong[f"{method} {path}"] = (status, "allowed" if allowed else "refused")
    assert wrong == {}


@pytest.mark.parametrize("role", [r.value for r in ROLES])
def test_another_cameras_principal_finds_nothing(rig: Rig, role: str) -> None:
    """A user scoped to cam-b asking for cam-a's camera, event or sensor: 404, as if it did not exist."""
    wrong = {}
    for method, path, route in http_routes(rig.app):
        if not any(p in path for p in SCOPED_PARAMS) or not declared_access(route).allows(Role(role)):
            continue
        status = call(rig, method, path, f"scoped-{role}")
        if status != 404:
            wrong[f"{method} {path}"] = status
    assert wrong == {}


@pytest.mark.parametrize(
    ("credential", "close_code"), [(None, 4401), ("forged", 4401), ("expired", 4401), ("integrator", 4403)]
)
def test_the_live_websocket_refuses_like_the_routes(
    rig: Rig, credential: str | None, close_code: int
) -> None:
    query = "" if credential is None else f"?token={rig.tokens[credential]}"
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        rig.client.websocket_connect(f"/v1/alerts/live{query}") as ws,
    ):
        ws.receive_json()
    assert refused.value.code == close_code


@pytest.mark.parametrize("role", [r.value for r in ROLES if Permission.ALERTS_READ in ROLE_PERMISSIONS[r]])
def test_the_live_websocket_serves_roles_that_read_alerts(rig: Rig, role: str) -> None:
    with rig.client.websocket_connect(f"/v1/alerts/live?token={rig.tokens[role]}") as ws:
        assert ws.receive_json()["kind"] == "hello"


def test_the_matrix_covers_the_whole_api(rig: Rig) -> None:
    """Sanity: the routes issue 7 asks for are all in the app the matrix walks."""
    paths = {path for _, path, _ in http_routes(rig.app)}
    for expected in (
        "/v1/alerts",
        "/v1/events",
        "/v1/audit",
        "/v1/users",
        "/v1/keys",
        "/v1/cameras",
        "/metrics",
        "/v1/watchlists",
        "/v1/faces/search",
        "/v1/events/{event_id}/snapshot/original",
        "/v1/hotlists",
        "/v1/hotlists/{hotlist_id}/entries",
    ):
        assert expected in paths
    assert Path(__file__).name.startswith("test_")
