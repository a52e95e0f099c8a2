"""/v1/cameras: the registry joined with worker health; add/replace/remove; errors; no credentials out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from api.config import ApiConfig
from events.cameras import CameraStatus, OfflineCause
from tests.unit.api_fakes import (
    CAMERA_URI,
    FAKE_CAMERA_SCHEMA,
    SECRET,
    FakeAuthenticator,
    FakeCameraRegistry,
    FakeEventStore,
    FakeHealthView,
    ListAuditSink,
    bearer,
    camera_health,
    camera_spec,
    fake_validate_camera,
)

SHOWN_URI = "rtsp://admin:***@10.0.0.5:554/stream1"


@pytest.fixture
def registry() -> FakeCameraRegistry:
    return FakeCameraRegistry([camera_spec("gate"), camera_spec("lobby"), camera_spec("yard")])


@pytest.fixture
def health() -> FakeHealthView:
    offline_detail = f"could not connect to rtsp://admin:{SECRET}@10.0.0.9:554: Connection refused"
    return FakeHealthView(
        [
            camera_health("gate", CameraStatus.ONLINE, frames_dropped=3, reconnects=1),
            camera_health(
                "yard",
                CameraStatus.OFFLINE,
                cause=OfflineCause.UNREACHABLE,
                detail=offline_detail,
                last_frame_age_s=42.0,
            ),
            camera_health("ghost", CameraStatus.ONLINE),  # reported, but not registered: not listed
        ]
    )


def make_client(
    registry: FakeCameraRegistry | None,
    health: FakeHealthView | None,
    tmp_path: Path,
    **kwargs: Any,
) -> TestClient:
    options: dict[str, Any] = {
        "validate_camera": fake_validate_camera,
        "camera_schema": FAKE_CAMERA_SCHEMA,
        "authenticator": FakeAuthenticator(),
    }
    app = create_app(FakeEventStore(), tmp_path, cameras=registry, health=health, **(options | kwargs))
    return TestClient(app, raise_server_exceptions=False, headers=bearer("integrator"))


@pytest.fixture
def client(registry: FakeCameraRegistry, health: FakeHealthView, tmp_path: Path) -> TestClient:
    return make_client(registry, health, tmp_path)


# ---- reading ---------------------------------------------------------------------------------------


def test_list_joins_registry_and_health(client: TestClient) -> None:
    r = client.get("/v1/cameras")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3
    gate, lobby, yard = body["items"]
    assert [gate["id"], lobby["id"], yard["id"]] == ["gate", "lobby", "yard"]
    assert {
        k: gate[k] for k in ("status", "analysed_fps", "decoded_fps", "frames_dropped", "reconnects")
    } == {
        "status": "online",
        "analysed_fps": 10.0,
        "decoded_fps": 25.0,
        "frames_dropped": 3,
        "reconnects": 1,
    }
    assert (gate["last_frame_age_s"], gate["resolution_wh"], gate["worker_id"]) == (
        0.1,
        [1920, 1080],
        "worker-1",
    )
    # registered, never reported: starting, no figures
    assert {k: lobby[k] for k in ("status", "worker_id", "analysed_fps", "last_frame_age_s", "cause")} == {
        "status": "starting",
        "worker_id": None,
        "analysed_fps": 0.0,
        "last_frame_age_s": None,
        "cause": None,
    }
    assert (yard["status"], yard["cause"], yard["last_frame_age_s"]) == ("offline", "unreachable", 42.0)
    assert yard["detail"] == "could not connect to rtsp://admin:***@10.0.0.9:554: Connection refused"
    assert gate["spec"]["uri"] == SHOWN_URI and gate["spec"]["zones"][0]["id"] == "road"
    assert (gate["version"], lobby["version"]) == (1, 1)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["gate", "lobby", "yard"]),
        ("?status=online", ["gate"]),
        ("?status=starting", ["lobby"]),
        ("?status=offline&status=reconnecting", ["yard"]),
        ("?status=finished", []),
    ],
)
def test_list_filters_by_status(client: TestClient, query: str, expected: list[str]) -> None:
    r = client.get("/v1/cameras" + query)
    assert r.status_code == 200
    assert [c["id"] for c in r.json()["items"]] == expected
    assert r.json()["total"] == len(expected)


@pytest.mark.parametrize(
    ("query", "loc"),
    [("?status=dead", ["query", "status", 0]), ("?state=online", ["query", "state"])],
)
def test_list_rejects_bad_filters(client: TestClient, query: str, loc: list[Any]) -> None:
    r = client.get("/v1/cameras" + query)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [loc]


def test_get_one_and_404_naming_the_id(client: TestClient) -> None:
    r = client.get("/v1/cameras/yard")
    assert (r.status_code, r.json()["id"], r.json()["status"]) == (200, "yard", "offline")
    r = client.get("/v1/cameras/attic")
    assert (r.status_code, r.json()) == (404, {"detail": "camera 'attic' not found"})


def test_without_health_view_every_camera_is_starting(registry: FakeCameraRegistry, tmp_path: Path) -> None:
    r = make_client(registry, None, tmp_path).get("/v1/cameras")
    assert {c["status"] for c in r.json()["items"]} == {"starting"}


# ---- changing --------------------------------------------------------------------------------------


def test_post_adds_a_starting_camera(client: TestClient, registry: FakeCameraRegistry) -> None:
    r = client.post("/v1/cameras", json=camera_spec("dock"))
    assert r.status_code == 201
    assert r.headers["location"] == "/v1/cameras/dock"
    body = r.json()
    assert (body["id"], body["status"], body["version"]) == ("dock", "starting", 1)
    assert body["spec"]["uri"] == SHOWN_URI
    assert body["spec"]["analysis_fps"] == 10.0  # normalised by the validator, stored as such
    stored = registry.records["dock"].spec
    assert stored["uri"] == CAMERA_URI and stored["analysis_fps"] == 10.0  # the worker gets the password
    assert client.get("/v1/cameras/dock").json()["status"] == "starting"


def test_post_existing_id_is_409(client: TestClient, registry: FakeCameraRegistry) -> None:
    r = client.post("/v1/cameras", json=camera_spec("gate", analysis_fps=2))
    assert r.status_code == 409
    assert r.json()["detail"].startswith("camera 'gate' already exists")
    assert registry.records["gate"].version == 1


INVALID_BODIES: list[tuple[str, Any, list[Any], str]] = [
    ("missing uri", {"id": "dock"}, ["body", "uri"], "missing"),
    (
        "unsupported scheme",
        camera_spec("dock", uri=f"ftp://admin:{SECRET}@h/x"),
        ["body", "uri"],
        "value_error",
    ),
    ("bad fps", camera_spec("dock", analysis_fps=0), ["body", "analysis_fps"], "greater_than"),
    (
        "zone with two points",
        camera_spec("dock", zones=[{"id": "road", "polygon": [[0, 0], [1, 1]]}]),
        ["body", "zones", 0, "polygon"],
        "too_short",
    ),
    (
        "rule names a missing zone",
        camera_spec("dock", rules=[{"id": "r1", "zone": "pier"}]),
        ["body"],
        "value_error",
    ),
    ("unknown key", camera_spec("dock", fps=5), ["body", "fps"], "extra_forbidden"),
    ("not an object", [camera_spec("dock")], ["body"], "dict_type"),
]


@pytest.mark.parametrize(
    ("case", "body", "loc", "error_type"), INVALID_BODIES, ids=[c[0] for c in INVALID_BODIES]
)
def test_post_invalid_is_422_naming_the_field(
    client: TestClient, registry: FakeCameraRegistry, case: str, body: Any, loc: list[Any], error_type: str
) -> None:
    r = client.post("/v1/cameras", json=body)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert [(e["loc"], e["type"]) for e in errors] == [(loc, error_type)]
    assert SECRET not in r.text
    assert "dock" not in registry.records


def test_422_messages_are_redacted_not_dropped(client: TestClient) -> None:
    r = client.post("/v1/cameras", json=camera_spec("dock", uri=f"ftp://admin:{SECRET}@h/x"))
    (error,) = r.json()["detail"]
    assert error["msg"] == "Value error, unsupported scheme in ftp://admin:***@h/x"
    assert error["input"] == "ftp://admin:***@h/x"


@pytest.mark.parametrize(
    ("raw", "loc", "error_type"),
    [
        (b'{"id": "dock",', ["body", 14], "json_invalid"),
        (b"", ["body"], "missing"),
        (b"\xff{}", ["body", 0], "json_invalid"),
    ],
)
def test_post_unparsable_body_is_422(client: TestClient, raw: bytes, loc: list[Any], error_type: str) -> None:
    r = client.post("/v1/cameras", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert [(e["loc"], e["type"]) for e in r.json()["detail"]] == [(loc, error_type)]


def test_post_over_the_size_limit_is_413(registry: FakeCameraRegistry, tmp_path: Path) -> None:
    client = make_client(registry, None, tmp_path, config=ApiConfig(camera_body_max_bytes=200))
    r = client.post("/v1/cameras", json=camera_spec("dock", zones=[], rules=[], note="x" * 300))
    assert (r.status_code, r.json()) == (413, {"detail": "the camera body is larger than 200 bytes"})


def test_put_replaces_and_bumps_the_version(client: TestClient, registry: FakeCameraRegistry) -> None:
    new_zone = {"id": "road", "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]}
    r = client.put("/v1/cameras/gate", json=camera_spec("gate", zones=[new_zone], analysis_fps=5))
    assert r.status_code == 200
    body = r.json()
    assert (body["version"], body["status"], body["spec"]["analysis_fps"]) == (2, "online", 5.0)
    assert registry.records["gate"].spec["zones"][0]["polygon"][3] == [0.0, 1.0]


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [
        ({k: v for k, v in camera_spec().items() if k != "id"}, 200, None),  # id from the path
        (camera_spec("lobby"), 422, ["body", "id"]),
        (camera_spec("gate", uri=""), 422, ["body", "uri"]),
    ],
    ids=["id absent", "id differs", "invalid"],
)
def test_put_body_id_and_validation(
    client: TestClient, registry: FakeCameraRegistry, body: Any, status: int, loc: list[Any] | None
) -> None:
    r = client.put("/v1/cameras/gate", json=body)
    assert r.status_code == status, r.text
    if loc is None:
        assert r.json()["id"] == "gate" and registry.records["gate"].version == 2
    else:
        assert [e["loc"] for e in r.json()["detail"]] == [loc]
        assert registry.records["gate"].version == 1


def test_put_unknown_is_404(client: TestClient, registry: FakeCameraRegistry) -> None:
    r = client.put("/v1/cameras/attic", json=camera_spec("attic"))
    assert (r.status_code, r.json()) == (404, {"detail": "camera 'attic' not found"})
    assert "attic" not in registry.records


def test_put_back_what_get_showed_keeps_the_password(
    client: TestClient, registry: FakeCameraRegistry
) -> None:
    shown = client.get("/v1/cameras/gate").json()["spec"]
    assert shown["uri"] == SHOWN_URI
    r = client.put("/v1/cameras/gate", json=shown | {"analysis_fps": 4})
    assert r.status_code == 200
    assert registry.records["gate"].spec["uri"] == CAMERA_URI  # not "***"
    # a changed host does not carry the old password over
    client.put("/v1/cameras/gate", json=shown | {"uri": "rtsp://admin:***@10.0.0.6:554/stream1"})
    assert registry.records["gate"].spec["uri"] == "rtsp://admin:***@10.0.0.6:554/stream1"


def test_delete_then_gone(client: TestClient, registry: FakeCameraRegistry) -> None:
    r = client.delete("/v1/cameras/lobby")
    assert (r.status_code, r.content) == (204, b"")
    assert "lobby" not in registry.records
    assert client.get("/v1/cameras/lobby").status_code == 404
    r = client.delete("/v1/cameras/lobby")
    assert (r.status_code, r.json()) == (404, {"detail": "camera 'lobby' not found"})


# ---- unavailable -----------------------------------------------------------------------------------

ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/v1/cameras", None),
    ("GET", "/v1/cameras/gate", None),
    ("POST", "/v1/cameras", camera_spec("dock")),
    ("PUT", "/v1/cameras/gate", camera_spec("gate")),
    ("DELETE", "/v1/cameras/gate", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_without_registry_every_route_is_503(tmp_path: Path, method: str, path: str, body: Any) -> None:
    app = create_app(FakeEventStore(), tmp_path, authenticator=FakeAuthenticator())
    client = TestClient(app, raise_server_exceptions=False, headers=bearer("integrator"))
    r = client.request(method, path, json=body)
    assert (r.status_code, r.json()) == (
        503,
        {"detail": "camera management is not enabled in this process (no camera registry)"},
    )


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_registry_error_is_503_with_its_cause(
    client: TestClient, registry: FakeCameraRegistry, method: str, path: str, body: Any
) -> None:
    registry.fail = f"kafka://admin:{SECRET}@broker:9092 unreachable"
    r = client.request(method, path, json=body)
    assert (r.status_code, r.json()) == (
        503,
        {"detail": "camera registry unavailable: kafka://admin:***@broker:9092 unreachable"},
    )
    assert "Traceback" not in r.text


@pytest.mark.parametrize("path", ["/v1/cameras", "/v1/cameras/gate"])
def test_health_view_error_is_503(client: TestClient, health: FakeHealthView, path: str) -> None:
    health.fail = "health consumer stopped"
    r = client.get(path)
    assert (r.status_code, r.json()) == (
        503,
        {"detail": "camera health unavailable: ConnectionError: health consumer stopped"},
    )


# ---- credentials -----------------------------------------------------------------------------------


def test_password_never_in_a_response_or_a_log(
    client: TestClient, registry: FakeCameraRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    extra = {
        "onvif": {"user": "admin", "password": SECRET},
        "backup_uri": f"http://u:{SECRET}@nvr/x?pwd={SECRET}",
    }
    registry.put(camera_spec("nvr") | extra)
    responses = [
        client.get("/v1/cameras"),
        client.get("/v1/cameras/nvr"),
        client.post("/v1/cameras", json=camera_spec("dock")),
        client.post("/v1/cameras", json=camera_spec("dock")),  # 409
        client.post("/v1/cameras", json=camera_spec("pier", uri=f"gopher://admin:{SECRET}@h")),  # 422
        client.put("/v1/cameras/dock", json=camera_spec("dock", analysis_fps=3)),
        client.put("/v1/cameras/dock", json=camera_spec("dock", rules=[{"id": "r", "zone": "x"}])),  # 422
        client.delete("/v1/cameras/dock"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 201, 409, 422, 200, 422, 204]
    for r in responses:
        assert SECRET not in r.text, r.request.url
    nvr = responses[1].json()["spec"]
    assert nvr["onvif"] == {"user": "admin", "password": "***"}
    assert nvr["backup_uri"] == "http://u:***@nvr/x?pwd=***"
    assert caplog.records and all(SECRET not in r.getMessage() for r in caplog.records)
    assert any(
        "camera dock added (uri rtsp://admin:***@10.0.0.5:554/stream1)" in r.getMessage()
        for r in caplog.records
    )


# ---- OpenAPI ---------------------------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_openapi_shows_the_camera_schema(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    assert {"/v1/cameras", "/v1/cameras/{camera_id}"} <= set(paths)
    for op in (paths["/v1/cameras"]["post"], paths["/v1/cameras/{camera_id}"]["put"]):
        body = op["requestBody"]
        assert body["required"] is True
        assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CameraSpec"}
    assert set(paths["/v1/cameras"]["post"]["responses"]) >= {"201", "409", "422", "503"}
    schemas = doc["components"]["schemas"]
    spec = schemas["CameraSpec"]
    assert {"id", "uri", "analysis_fps", "zones", "rules"} <= set(spec["properties"])
    assert spec["required"] == ["id", "uri"] and "$defs" not in spec
    assert spec["properties"]["zones"]["items"] == {"$ref": "#/components/schemas/FakeZone"}
    assert schemas["FakeZone"]["properties"]["polygon"]["minItems"] == 3
    # every reference in the document resolves
    prefix = "#/components/schemas/"
    assert all(ref.startswith(prefix) and ref.removeprefix(prefix) in schemas for ref in _refs(doc))


def test_openapi_camera_defs_share_or_leave_the_apps_own(
    registry: FakeCameraRegistry, tmp_path: Path
) -> None:
    doc = make_client(registry, None, tmp_path, camera_schema=None).get("/openapi.json").json()
    assert doc["components"]["schemas"]["CameraSpec"]["required"] == ["id", "uri"]  # generic without one
    camera_status = doc["components"]["schemas"]["CameraStatus"]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "err": {"$ref": "#/$defs/ErrorOut"},
            "status": {"$ref": "#/$defs/CameraStatus"},
            "self": {"$ref": "#"},
        },
        "$defs": {"ErrorOut": {"type": "integer"}, "CameraStatus": camera_status},
    }
    app = create_app(FakeEventStore(), tmp_path, cameras=registry, camera_schema=schema)
    schemas = app.openapi()["components"]["schemas"]
    # a def that differs from the API's own component of that name is renamed; an identical one is shared
    assert schemas["ErrorOut"]["properties"]["detail"]["type"] == "string"
    assert schemas["CameraSpec_ErrorOut"] == {"type": "integer"}
    assert "CameraSpec_CameraStatus" not in schemas and schemas["CameraStatus"] == camera_status
    assert schemas["CameraSpec"]["properties"] == {
        "err": {"$ref": "#/components/schemas/CameraSpec_ErrorOut"},
        "status": {"$ref": "#/components/schemas/CameraStatus"},
        "self": {"$ref": "#/components/schemas/CameraSpec"},
    }
    assert schema["properties"]["err"] == {"$ref": "#/$defs/ErrorOut"}  # the caller's dict untouched


# ---- sign-in, roles, scope, audit ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credential", "listed"),
    [
        ("integrator", ["gate", "lobby", "yard"]),
        ("operator", ["gate", "lobby", "yard"]),
        ("operator@lobby", ["lobby"]),
        ("operator@gate,yard", ["gate", "yard"]),
        ("auditor@site:north", []),
    ],
)
def test_lists_only_cameras_in_the_callers_scope(
    client: TestClient, credential: str, listed: list[str]
) -> None:
    r = client.get("/v1/cameras", headers=bearer(credential))
    assert r.status_code == 200
    assert [c["id"] for c in r.json()["items"]] == listed


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_out_of_scope_camera_reads_as_missing(client: TestClient, method: str) -> None:
    """404 like an unknown id, never 403: a scoped user cannot learn that the camera exists."""

    def call(camera_id: str) -> Response:
        body = camera_spec(camera_id) if method == "PUT" else None
        response: Response = client.request(
            method, f"/v1/cameras/{camera_id}", json=body, headers=bearer("integrator@lobby")
        )
        return response

    r, unknown = call("gate"), call("nope")
    assert (r.status_code, unknown.status_code) == (404, 404)
    assert r.json()["detail"] == "camera 'gate' not found"


def test_a_scoped_integrator_cannot_add_a_camera_outside_its_scope(
    client: TestClient, registry: FakeCameraRegistry
) -> None:
    r = client.post(
        "/v1/cameras", json=camera_spec("dock", site_id="south"), headers=bearer("integrator@site:north")
    )
    assert r.status_code == 403
    assert "outside your scope" in r.json()["detail"]
    assert registry.get("dock") is None
    ok = client.post(
        "/v1/cameras", json=camera_spec("dock", site_id="north"), headers=bearer("integrator@site:north")
    )
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "credential", "status"),
    [
        ("GET", "/v1/cameras", None, 401),
        ("GET", "/v1/cameras", "forged", 401),
        ("POST", "/v1/cameras", "operator", 403),
        ("POST", "/v1/cameras", "auditor", 403),
        ("DELETE", "/v1/cameras/gate", "operator", 403),
        ("PUT", "/v1/cameras/gate", "auditor", 403),
    ],
)
def test_roles_without_camera_rights_are_refused(
    client: TestClient,
    registry: FakeCameraRegistry,
    method: str,
    path: str,
    credential: str | None,
    status: int,
) -> None:
    headers = {"Authorization": ""} if credential is None else bearer(credential)
    body = camera_spec("gate") if method in ("POST", "PUT") else None
    r = client.request(method, path, json=body, headers=headers)
    assert r.status_code == status
    assert registry.get("gate") is not None


def test_camera_changes_are_audited_without_secrets(
    registry: FakeCameraRegistry, health: FakeHealthView, tmp_path: Path
) -> None:
    sink = ListAuditSink()
    client = make_client(registry, health, tmp_path, audit=sink)
    assert client.post("/v1/cameras", json=camera_spec("dock")).status_code == 201
    assert client.put("/v1/cameras/dock", json=camera_spec("dock")).status_code == 200
    assert client.delete("/v1/cameras/dock").status_code == 204
    assert client.post("/v1/cameras", json=camera_spec("x"), headers=bearer("operator")).status_code == 403
    assert [(a.action, a.target, a.actor, a.outcome) for a in sink.records] == [
        ("camera.create", "camera:dock", "test-integrator", "ok"),
        ("camera.update", "camera:dock", "test-integrator", "ok"),
        ("camera.delete", "camera:dock", "test-integrator", "ok"),
        ("access.denied", "POST /v1/cameras", "test-operator", "denied"),
    ]
    assert all(SECRET not in a.model_dump_json() for a in sink.records)
