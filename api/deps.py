"""Request dependencies: what `create_app` put on `app.state` (store, cameras, health, limits, ...)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.requests import HTTPConnection

from api import camera_services
from api.camera_services import CamerasDisabledError, CameraValidator
from api.config import ApiConfig
from api.live_services import LiveHub
from api.page_cache import PageCache
from api.principal import AuthenticationError, Authenticator, Permission, Principal
from api.readiness import ReadinessProbe
from api.schemas import EventListParams, EventTypeOut
from api.sensor_services import SensorsDisabledError, SensorService
from events.alert_state import AlertStateStore
from events.audit import AuditLogReader, AuditOutcome, AuditRecord, AuditSink
from events.cameras import CameraRegistry, CameraSpec, CameraSpecError, HealthView
from events.faces import FaceStore, GalleryPublisher
from events.hotlists import HotlistPublisher, HotlistStore
from events.ports import EventStore

if TYPE_CHECKING:
    from api.auth.service import AuthService
    from api.face_services import FaceEncoder, FaceSearcher


class BodyTooLargeError(ValueError):
    """A request body over the configured limit (-> 413)."""


class ForbiddenError(PermissionError):
    """Signed in, but the role lacks the permission (-> 403)."""


class AuthUnavailableError(RuntimeError):
    """This process has no authenticator (-> 503): nothing but public routes can be served."""


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Everything the handlers need, built once by `create_app` (no module globals)."""

    store: EventStore
    data_dir: Path
    config: ApiConfig
    readiness: ReadinessProbe
    cameras: CameraRegistry | None = None
    health: HealthView | None = None
    validate_camera: CameraValidator | None = None
    camera_schema: dict[str, Any] | None = None
    event_types: tuple[EventTypeOut, ...] = ()
    sensors: SensorService | None = None
    authenticator: Authenticator | None = None
    audit: AuditSink | None = None
    auth_service: AuthService | None = None  # sign-in, users and API keys (api/auth)
    audit_log: AuditLogReader | None = None  # the trail for `/v1/audit` (query, verify)
    live: LiveHub | None = None  # the live alert feed (None: no broadcaster in this process)
    alert_states: AlertStateStore | None = None  # alert lifecycle rows (None: alerts read as new)
    alert_pages: PageCache = field(default_factory=lambda: PageCache(0))  # hot /v1/alerts pages
    rule_sops: Callable[[str, str], str] | None = None  # (camera_id, rule_id) -> the rule's SOP text
    face_store: FaceStore | None = None  # watchlists, identities, enrolled faces (None: face routes 503)
    gallery: GalleryPublisher | None = None  # tells the workers of watchlist changes (None: no changes)
    face_encoder: FaceEncoder | None = None  # image -> faces (None: no enrolment, no search)
    face_searcher: FaceSearcher | None = None  # 1:N index over the enrolled faces (None: no search)
    hotlist_store: HotlistStore | None = None  # plate hotlists and entries (None: hotlist routes 503)
    hotlists: HotlistPublisher | None = None  # tells the workers of hotlist changes (None: no changes)


async def get_context(request: Request) -> ApiContext:
    ctx = request.app.state.ctx
    if not isinstance(ctx, ApiContext):
        raise RuntimeError("app.state.ctx is not set: build the app with api.app.create_app")
    return ctx


ContextDep = Annotated[ApiContext, Depends(get_context)]
# Dependencies that only read what is in memory are `async def`: FastAPI runs them inline instead of
# handing each to the threadpool (a thread hop apiece; ~2 ms a request with a handful of them).


async def get_store(ctx: ContextDep) -> EventStore:
    return ctx.store


async def get_data_dir(ctx: ContextDep) -> Path:
    return ctx.data_dir


async def get_config(ctx: ContextDep) -> ApiConfig:
    return ctx.config


StoreDep = Annotated[EventStore, Depends(get_store)]
DataDirDep = Annotated[Path, Depends(get_data_dir)]
ConfigDep = Annotated[ApiConfig, Depends(get_config)]


@dataclass(frozen=True, slots=True)
class ListRequest:
    params: EventListParams
    limit: int


async def get_list_request(params: Annotated[EventListParams, Query()], config: ConfigDep) -> ListRequest:
    """Validates paging against the configured limits (a 422 naming the limit, like any bad parameter)."""
    limit = config.page_limit_default if params.limit is None else params.limit
    errors: list[dict[str, object]] = []
    if limit > config.page_limit_max:
        errors.append(_too_big("limit", limit, config.page_limit_max))
    if params.offset > config.offset_max:
        errors.append(_too_big("offset", params.offset, config.offset_max))
    if errors:
        raise RequestValidationError(errors)
    return ListRequest(params=params, limit=limit)


def _too_big(name: str, value: int, maximum: int) -> dict[str, object]:
    return {
        "type": "less_than_equal",
        "loc": ("query", name),
        "msg": f"Input should be less than or equal to {maximum}",
        "input": value,
        "ctx": {"le": maximum},
    }


ListRequestDep = Annotated[ListRequest, Depends(get_list_request)]


def get_cameras(ctx: ContextDep) -> CameraRegistry:
    if ctx.cameras is None:
        raise CamerasDisabledError("camera management is not enabled in this process (no camera registry)")
    return ctx.cameras


def get_health(ctx: ContextDep) -> HealthView | None:
    return ctx.health


def get_camera_validator(ctx: ContextDep) -> CameraValidator:
    return ctx.validate_camera or camera_services.check_minimal_spec


def get_readiness(ctx: ContextDep) -> ReadinessProbe:
    return ctx.readiness


CamerasDep = Annotated[CameraRegistry, Depends(get_cameras)]
HealthDep = Annotated[HealthView | None, Depends(get_health)]
CameraValidatorDep = Annotated[CameraValidator, Depends(get_camera_validator)]
ReadinessDep = Annotated[ReadinessProbe, Depends(get_readiness)]


async def read_camera_body(request: Request, config: ConfigDep) -> CameraSpec:
    """The request body as a JSON object, read up to the configured size (422 / 413 otherwise).

    Read by hand, not declared as a model: the camera's model lives in the pipeline, which
    validates it (`validate_camera`); the OpenAPI document gets its schema from `create_app`.
    """
    limit = config.camera_body_max_bytes
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise BodyTooLargeError(f"the camera body is larger than {limit} bytes")
    if not raw.strip():
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required"}
        raise CameraSpecError("missing body", [missing])
    try:
        data: Any = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        invalid = {
            "type": "json_invalid",
            "loc": ("body", exc.pos if isinstance(exc, json.JSONDecodeError) else 0),
            "msg": "JSON decode error",
            "ctx": {"error": exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"},
        }
        raise CameraSpecError("invalid JSON", [invalid]) from None
    if not isinstance(data, dict):
        raise CameraSpecError(
            "not an object",
            [{"type": "dict_type", "loc": ("body",), "msg": "Input should be a JSON object (the camera)"}],
        )
    return data


CameraBodyDep = Annotated[CameraSpec, Depends(read_camera_body)]


async def get_event_types(ctx: ContextDep) -> tuple[EventTypeOut, ...]:
    return ctx.event_types


EventTypesDep = Annotated[tuple[EventTypeOut, ...], Depends(get_event_types)]


def get_sensors(ctx: ContextDep) -> SensorService:
    if ctx.sensors is None:
        raise SensorsDisabledError("sensor management is not enabled in this process (no sensor registry)")
    return ctx.sensors


SensorsDep = Annotated[SensorService, Depends(get_sensors)]


# --- who is calling -------------------------------------------------------------------------------

BEARER_PREFIX = "bearer "


def bearer_credential(authorization: str | None) -> str:
    """The credential of an `Authorization: Bearer <credential>` header (AuthenticationError otherwise)."""
    if not authorization:
        raise AuthenticationError("not signed in: send Authorization: Bearer <access token or API key>")
    if not authorization.lower().startswith(BEARER_PREFIX) or not authorization[len(BEARER_PREFIX) :].strip():
        raise AuthenticationError("the Authorization header must be: Bearer <access token or API key>")
    return authorization[len(BEARER_PREFIX) :].strip()


def authenticate(ctx: ApiContext, credential: str) -> Principal:
    if ctx.authenticator is None:
        raise AuthUnavailableError("sign-in is not configured in this process")
    return ctx.authenticator.authenticate(credential)


def get_principal(request: Request, ctx: ContextDep) -> Principal:
    """The caller, from its bearer access token or API key (401 when absent, expired, forged, revoked)."""
    principal = authenticate(ctx, bearer_credential(request.headers.get("authorization")))
    request.state.principal = principal  # for the access log and the audit of denials
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def client_address(conn: HTTPConnection) -> str:
    """The peer's address of a request or a WebSocket ('' when unknown)."""
    return conn.client.host if conn.client is not None else ""


@dataclass(frozen=True, slots=True)
class RequestAudit:
    """Appends audit records for one request (its source address filled in)."""

    sink: AuditSink | None
    source: str

    def record(
        self,
        action: str,
        target: str = "",
        *,
        actor: Principal | str,
        outcome: AuditOutcome = "ok",
        purpose: str = "",
        detail: str = "",
    ) -> None:
        if self.sink is None:
            return
        name, role = (actor.actor, actor.role.value) if isinstance(actor, Principal) else (actor, "")
        self.sink.append(
            AuditRecord(
                ts_ms=int(time.time() * 1000),
                actor=name,
                role=role,
                action=action,
                target=target,
                source=self.source,
                outcome=outcome,
                purpose=purpose,
                detail=detail,
            )
        )


async def get_audit(request: Request, ctx: ContextDep) -> RequestAudit:
    return RequestAudit(sink=ctx.audit, source=client_address(request))


AuditDep = Annotated[RequestAudit, Depends(get_audit)]


class PermissionCheck:
    """A dependency that lets the request through when the caller has every permission listed.

    Its `permissions` are what the RBAC matrix test reads from each route.
    """

    def __init__(self, *permissions: Permission) -> None:
        if not permissions:
            raise ValueError("require() needs at least one permission")
        self.permissions = frozenset(permissions)

    def __call__(self, principal: CurrentUser, audit: AuditDep, request: Request) -> Principal:
        refused = self.refusal(principal, audit, f"{request.method} {request.url.path}")
        if refused is not None:
            raise ForbiddenError(refused)
        return principal

    def refusal(self, principal: Principal, audit: RequestAudit, target: str) -> str | None:
        """None when `principal` has every permission; else the refusal's message, the denial audited."""
        missing = sorted(p.value for p in self.permissions if not principal.can(p))
        if not missing:
            return None
        audit.record(
            "access.denied",
            target,
            actor=principal,
            outcome="denied",
            detail=f"role {principal.role.value} lacks {', '.join(missing)}",
        )
        return f"role {principal.role.value} may not do this (needs {', '.join(missing)})"


def require(*permissions: Permission) -> Any:
    """`Annotated[Principal, require(Permission.X)]`: the caller, checked for the permission(s)."""
    return Depends(PermissionCheck(*permissions))
