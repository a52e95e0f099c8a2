"""The app factory. The composition root builds the store (and the camera registry, health view,
validator, readiness checks) and calls `create_app`; nothing here is global.

Swagger UI (`/docs`) and ReDoc load their JavaScript from a CDN, which this deployment cannot reach,
so both are off by default (pass `docs_url="/docs"` where browsers have internet); the OpenAPI
document itself is always served at `/openapi.json`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api import alert_services, camera_services, sensor_services, services
from api.auth.service import AuthService
from api.camera_schemas import camera_spec_components
from api.config import ApiConfig
from api.deps import ApiContext, AuthUnavailableError, BodyTooLargeError, ForbiddenError
from api.face_services import FaceEncoder, FaceSearcher, SerialEncoder
from api.live_services import LiveHub
from api.metrics import RequestMetricsMiddleware, build_metrics
from api.page_cache import PageCache
from api.principal import AuthenticationError, Authenticator
from api.readiness import ReadinessCheck, ReadinessProbe
from api.redaction import is_secret_key, redact_text
from api.routes import alerts, console, events
from api.routes import audit as audit_routes
from api.routes import auth as auth_routes
from api.routes import cameras as camera_routes
from api.routes import event_types as event_types_routes
from api.routes import evidence as evidence_routes
from api.routes import faces as face_routes
from api.routes import health as health_routes
from api.routes import hotlists as hotlist_routes
from api.routes import live as live_routes
from api.routes import metrics as metrics_routes
from api.routes import sensors as sensor_routes
from api.routes import users as user_routes
from api.routes import watchlists as watchlist_routes
from api.schemas import EventTypeOut
from events.alert_state import AlertStateStore, IllegalTransitionError, StateConflictError
from events.audit import AuditLogReader, AuditSink
from events.bus.broadcast import EventBroadcaster
from events.cameras import CameraRegistry, CameraSpec, CameraSpecError, HealthView, RegistryError
from events.faces import FaceStore, GalleryPublisher
from events.hotlists import HotlistPublisher, HotlistStore
from events.ports import EventStore, StoreError

logger = logging.getLogger(__name__)

#: Service failures and the HTTP status each becomes; the body is always {"detail": "<cause>"}.
_STATUS_BY_ERROR: dict[type[Exception], int] = {
    services.NotFoundError: 404,
    services.SnapshotPathError: 400,
    services.SnapshotIntegrityError: 409,
    services.SnapshotUnreadableError: 500,
    camera_services.CameraExistsError: 409,
    camera_services.CameraScopeError: 403,
    BodyTooLargeError: 413,
    ForbiddenError: 403,
    AuthUnavailableError: 503,
    camera_services.CamerasDisabledError: 503,
    camera_services.HealthUnavailableError: 503,
    sensor_services.SensorExistsError: 409,
    sensor_services.SensorScopeError: 403,
    sensor_services.SensorsDisabledError: 503,
    sensor_services.SensorUnavailableError: 503,
    **live_routes.ERROR_STATUS,
    IllegalTransitionError: 409,
    StateConflictError: 409,
    alert_services.AlertsDisabledError: 503,
    **audit_routes.ERROR_STATUS,
}


def create_app(
    store: EventStore,
    data_dir: Path,
    *,
    config: ApiConfig | None = None,
    title: str = "anfang",
    version: str = "0.1.0",
    docs_url: str | None = None,
    cameras: CameraRegistry | None = None,
    health: HealthView | None = None,
    validate_camera: Callable[[CameraSpec], CameraSpec] | None = None,
    camera_schema: dict[str, Any] | None = None,
    readiness_checks: Mapping[str, Callable[[], str | None]] | None = None,
    event_types: Sequence[EventTypeOut] = (),
    sensors: sensor_services.SensorService | None = None,
    authenticator: Authenticator | None = None,
    audit: AuditSink | None = None,
    auth_service: AuthService | None = None,
    audit_log: AuditLogReader | None = None,
    broadcaster: EventBroadcaster | None = None,
    alert_states: AlertStateStore | None = None,
    rule_sops: Callable[[str, str], str] | None = None,
    sink_lag: Callable[[], int] | None = None,
    face_store: FaceStore | None = None,
    gallery: GalleryPublisher | None = None,
    face_encoder: FaceEncoder | None = None,
    face_searcher: FaceSearcher | None = None,
    hotlist_store: HotlistStore | None = None,
    hotlists: HotlistPublisher | None = None,
) -> FastAPI:
    """An API over `store`, serving snapshots from under `data_dir`. The caller owns every object it passes.

    - `cameras`: the camera registry behind `/v1/cameras`; without it those routes answer 503.
    - `health`: the workers' camera health; without it every camera reads `starting`.
    - `validate_camera`: validates and normalises a camera body (raises `CameraSpecError`); without it
      only `id` and `uri` are checked.
    - `camera_schema`: the JSON Schema of the camera body, shown in the OpenAPI document.
    - `event_types`: the event types the deployment produces (`/v1/event-types`, alert counts).
    - `readiness_checks`: name -> check (None when ok, else the cause) for `/readyz`, beside the
      built-in "store" check (a check named "store" replaces it).
    - `sensors`: the sensor registry, readings sink and history behind `/v1/sensors`; without it
      those routes answer 503.
    - `authenticator`: turns a bearer credential into a `Principal`; without it every route but the
      public ones (health, readiness, the console page, the OpenAPI document) answers 503.
    - `sink_lag`: events published and not yet stored (`anfang_sink_lag_events` on /metrics).
    - `audit`: where audit records go (sign-ins, changes, alert actions, exports, snapshot views).
    - `auth_service`: sign-in (`/v1/auth`), users and API keys (`/v1/users`, `/v1/keys`); without it
      those routes answer 503.
    - `audit_log`: the trail read back for `/v1/audit` (often the same object as `audit`); without
      it those routes answer 503.
    - `broadcaster`: the bus broadcast behind the live feed `/v1/alerts/live`; without it that feed
      answers 503 (WebSocket: close 1013).
    - `alert_states`: the alerts' lifecycle rows (`/v1/alerts` states, actions); without it every
      alert reads as new and actions answer 503.
    - `rule_sops`: (camera_id, rule_id) -> the rule's SOP text, served with its alerts ("" without it).
    - `face_store`, `gallery`, `face_encoder`, `face_searcher`: face watchlists (`/v1/watchlists`),
      enrolment, search by image (`/v1/faces/search`) and "not this person"; a route whose part is
      missing answers 503. `face_encoder` is called by one request at a time.
    - `hotlist_store`, `hotlists`: plate hotlists (`/v1/hotlists`) and the publisher that sends each
      changed list to the workers; without the store those routes answer 503, without the publisher
      the changes do.
    """
    config = config or ApiConfig()
    app = FastAPI(
        title=title,
        version=version,
        description="Smart-security video analytics: cameras, events, alerts and their evidence snapshots.",
        docs_url=docs_url,
        redoc_url=None,
    )
    checks: dict[str, ReadinessCheck] = {"store": lambda: services.check_store(store)}
    checks.update(readiness_checks or {})
    app.state.ctx = ApiContext(
        store=store,
        data_dir=data_dir,
        config=config,
        readiness=ReadinessProbe(checks, timeout_s=config.readiness_timeout_s),
        cameras=cameras,
        health=health,
        validate_camera=validate_camera,
        camera_schema=camera_schema,
        event_types=tuple(event_types),
        sensors=sensors,
        authenticator=authenticator,
        audit=audit,
        auth_service=auth_service,
        audit_log=audit_log,
        alert_states=alert_states,
        alert_pages=(alert_pages := PageCache(config.alerts_cache_ttl_s)),
        rule_sops=rule_sops,
        face_store=face_store,
        gallery=gallery,
        face_encoder=None if face_encoder is None else SerialEncoder(face_encoder),
        face_searcher=face_searcher,
        hotlist_store=hotlist_store,
        hotlists=hotlists,
        live=None
        if broadcaster is None
        else LiveHub(
            broadcaster,
            queue_max=config.live_queue_max,
            clients_max=config.live_clients_max,
            sops=rule_sops,
        ),
    )
    if broadcaster is not None:  # a new alert makes every cached alert page old
        broadcaster.on_publish(lambda event: alert_pages.invalidate() if event.alert else None)
    app.state.metrics = metrics = build_metrics(store, cameras, health, sink_lag)
    app.add_middleware(RequestMetricsMiddleware, histogram=metrics.request_duration)
    for error_type in _STATUS_BY_ERROR:
        app.add_exception_handler(error_type, _service_error)
    app.add_exception_handler(AuthenticationError, _unauthenticated)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(CameraSpecError, _camera_spec_error)
    for auth_error, auth_handler in auth_routes.ERROR_HANDLERS.items():
        app.add_exception_handler(auth_error, auth_handler)
    for sensor_error, handler in sensor_routes.ERROR_HANDLERS.items():
        app.add_exception_handler(sensor_error, handler)
    for history_error, history_handler in events.ERROR_HANDLERS.items():
        app.add_exception_handler(history_error, history_handler)
    for face_error, face_handler in face_routes.ERROR_HANDLERS.items():
        app.add_exception_handler(face_error, face_handler)
    for hotlist_error, hotlist_handler in hotlist_routes.ERROR_HANDLERS.items():
        app.add_exception_handler(hotlist_error, hotlist_handler)
    app.include_router(health_routes.router)
    app.include_router(auth_routes.router)
    app.include_router(user_routes.router)
    app.include_router(metrics_routes.router)
    app.include_router(camera_routes.router)
    app.include_router(sensor_routes.router)
    app.include_router(events.router)
    app.include_router(evidence_routes.router)
    app.include_router(event_types_routes.router)
    app.include_router(live_routes.router)  # before alerts: /live is not an event id
    app.include_router(alerts.router)
    app.include_router(face_routes.build_router(config))
    app.include_router(watchlist_routes.build_router(config))
    app.include_router(hotlist_routes.build_router(config))
    app.include_router(audit_routes.router)
    app.include_router(console.router)
    _publish_camera_schema(app, camera_schema)
    events.publish_limit_settings(app, config)
    return app


def _publish_camera_schema(app: FastAPI, camera_schema: dict[str, Any] | None) -> None:
    """Adds the camera body's schema (`CameraSpec` and its defs) to the generated OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = app.openapi_schema
        if document is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(camera_spec_components(camera_schema, existing=schemas))
            app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    status = next(code for kind, code in _STATUS_BY_ERROR.items() if isinstance(exc, kind))
    if status >= 500:
        logger.error("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def _unauthenticated(request: Request, exc: Exception) -> JSONResponse:
    """401 with the cause (missing, expired, forged, revoked), never the credential itself."""
    return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("%s %s: store unavailable: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": f"store unavailable: {exc}"}, status_code=503)


async def _registry_error(request: Request, exc: Exception) -> JSONResponse:
    cause = redact_text(str(exc))
    logger.warning("%s %s: camera registry: %s", request.method, request.url.path, cause)
    return JSONResponse({"detail": f"camera registry unavailable: {cause}"}, status_code=503)


async def _camera_spec_error(request: Request, exc: Exception) -> JSONResponse:
    """422 shaped like FastAPI's own: `loc` from "body", no credentials echoed back."""
    errors = exc.errors if isinstance(exc, CameraSpecError) else []
    detail = [_public_error(e) for e in errors] or [
        {"type": "value_error", "loc": ["body"], "msg": redact_text(str(exc))}
    ]
    logger.info("%s %s: invalid camera: %s", request.method, request.url.path, _summary(detail))
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def _public_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """One validation error safe to return: loc prefixed by "body", messages redacted, the input only
    when scalar and not a secret's (a whole sub-object could carry a URI with its password)."""
    loc = [p if isinstance(p, int) else str(p) for p in error.get("loc", ())]
    if not loc or loc[0] != "body":
        loc.insert(0, "body")
    out: dict[str, Any] = {
        "type": str(error.get("type", "value_error")),
        "loc": loc,
        "msg": redact_text(str(error.get("msg", ""))),
    }
    value = error.get("input")
    secret = is_secret_key(str(loc[-1]))
    if "input" in error and not secret and (value is None or isinstance(value, str | bool | int | float)):
        out["input"] = _scalar(value)
    ctx = error.get("ctx")
    if isinstance(ctx, Mapping):
        out["ctx"] = {str(k): _scalar(v) for k, v in ctx.items()}
    return out


def _summary(detail: list[dict[str, Any]], shown: int = 3) -> str:
    """The first errors as `loc: msg`, for one log line of bounded length."""
    text = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in detail[:shown])
    return text + (f" (and {len(detail) - shown} more)" if len(detail) > shown else "")
