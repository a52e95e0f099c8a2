"""Cameras at run time, without HTTP: the registry's specs joined with the workers' health.

The registry is the truth of which cameras exist; health only says how each is doing (a registered
camera no worker has reported yet is `starting`). Specs are validated by the injected validator
(the pipeline's CameraConfig, which the API must not import) before they reach the registry.

Failures are typed; `api.app` maps them: `CameraNotFoundError` 404, `CameraExistsError` 409,
`CameraSpecError` 422, `CamerasDisabledError` / `HealthUnavailableError` / `RegistryError` 503.
Specs carry credentials: nothing here logs a spec or a URI unredacted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from api.redaction import redact_text, restore_redacted, safe_spec
from api.services import NotFoundError
from events.auth import UNRESTRICTED, CameraScope
from events.cameras import (
    CameraHealth,
    CameraRecord,
    CameraRegistry,
    CameraSpec,
    CameraSpecError,
    CameraStatus,
    HealthView,
    redact_uri,
)

logger = logging.getLogger(__name__)

#: Validates a camera body and returns it normalised; raises `CameraSpecError`.
CameraValidator = Callable[[CameraSpec], CameraSpec]


class CameraNotFoundError(NotFoundError):
    """No camera with this id in the registry (-> 404)."""


class CameraExistsError(RuntimeError):
    """POST of a camera id that is already registered (-> 409)."""


class CameraScopeError(PermissionError):
    """A scoped principal creating or moving a camera outside its scope (-> 403)."""


class CamerasDisabledError(RuntimeError):
    """This process was built without a camera registry (-> 503)."""


class HealthUnavailableError(RuntimeError):
    """The workers' health view failed (-> 503)."""


@dataclass(frozen=True, slots=True)
class CameraView:
    """A registered camera and the latest health its worker reported (None: not heard from yet)."""

    record: CameraRecord
    health: CameraHealth | None

    @property
    def status(self) -> CameraStatus:
        return CameraStatus.STARTING if self.health is None else self.health.status


def _latest_health(health: HealthView | None) -> dict[str, CameraHealth]:
    if health is None:
        return {}
    try:
        return dict(health.latest())
    except Exception as exc:  # any failure of the view is reported as such, never as a traceback
        cause = redact_text(f"{type(exc).__name__}: {exc}")
        logger.warning("camera health view failed: %s", cause)
        raise HealthUnavailableError(f"camera health unavailable: {cause}") from exc


def in_scope(scope: CameraScope, spec: CameraSpec) -> bool:
    """Whether a camera (its spec: `id`, `site_id`) is one the scope lets its holder see."""
    site = spec.get("site_id")
    return scope.allows(str(spec.get("id", "")), site if isinstance(site, str) else None)


def list_cameras(
    registry: CameraRegistry,
    health: HealthView | None,
    *,
    statuses: Collection[CameraStatus] = (),
    scope: CameraScope = UNRESTRICTED,
) -> list[CameraView]:
    """Every camera in `scope` (sorted by id) with its health; only those in `statuses` when given."""
    latest = _latest_health(health)
    records = [r for r in registry.list() if in_scope(scope, r.spec)]
    views = [CameraView(record=r, health=latest.get(r.camera_id)) for r in records]
    return [v for v in views if not statuses or v.status in statuses]


def _get_record(registry: CameraRegistry, camera_id: str, scope: CameraScope = UNRESTRICTED) -> CameraRecord:
    """The camera, or `CameraNotFoundError` — also when it is out of scope (its existence must not leak)."""
    record = registry.get(camera_id)
    if record is None or not in_scope(scope, record.spec):
        raise CameraNotFoundError(f"camera {camera_id!r} not found")
    return record


def get_camera(
    registry: CameraRegistry, health: HealthView | None, camera_id: str, scope: CameraScope = UNRESTRICTED
) -> CameraView:
    record = _get_record(registry, camera_id, scope)
    return CameraView(record=record, health=_latest_health(health).get(camera_id))


def check_minimal_spec(spec: CameraSpec) -> CameraSpec:
    """The validator used when none is injected: `id` and `uri` are non-empty strings."""
    errors = [
        {"loc": ("body", key), "msg": f"{key} must be a non-empty string", "type": "string_type"}
        for key in ("id", "uri")
        if not isinstance(spec.get(key), str) or not spec[key].strip()
    ]
    if errors:
        raise CameraSpecError("invalid camera", errors)
    return dict(spec)


def _id_error(message: str, value: Any) -> CameraSpecError:
    error = {"loc": ("body", "id"), "msg": message, "type": "value_error", "input": value}
    return CameraSpecError(message, [error])


def _validated(validate: CameraValidator, body: CameraSpec) -> tuple[str, CameraSpec]:
    spec = validate(dict(body))
    camera_id = spec.get("id")
    if not isinstance(camera_id, str) or not camera_id:
        raise _id_error("the camera needs an id (a non-empty string)", camera_id)
    return camera_id, spec


def _check_target_scope(scope: CameraScope, spec: CameraSpec) -> None:
    """A scoped principal may only create or move a camera within its own scope."""
    if not in_scope(scope, spec):
        raise CameraScopeError(
            f"camera {spec.get('id')!r} of site {spec.get('site_id')!r} "
            f"is outside your scope ({scope.describe()})"
        )


def add_camera(
    registry: CameraRegistry, validate: CameraValidator, body: CameraSpec, scope: CameraScope = UNRESTRICTED
) -> CameraView:
    """Registers a new camera (its worker starts it); `CameraExistsError` when the id is taken."""
    camera_id, spec = _validated(validate, body)
    _check_target_scope(scope, spec)
    if registry.get(camera_id) is not None:
        raise CameraExistsError(
            f"camera {camera_id!r} already exists (PUT /v1/cameras/{camera_id} replaces it)"
        )
    record = registry.put(spec)
    logger.info("camera %s added (uri %s)", camera_id, _shown_uri(spec))
    return CameraView(record=record, health=None)


def replace_camera(
    registry: CameraRegistry,
    health: HealthView | None,
    validate: CameraValidator,
    camera_id: str,
    body: CameraSpec,
    scope: CameraScope = UNRESTRICTED,
) -> CameraView:
    """Replaces an existing camera's spec (its worker restarts it with the new one).

    The body's `id` must be absent or equal `camera_id`. Values sent back as they were shown
    (a URI with `***` for its password) keep their stored secret.
    """
    body_id = body.get("id", camera_id)
    if body_id != camera_id:
        raise _id_error(f"the body's id {body_id!r} differs from the path's {camera_id!r}", body_id)
    stored = _get_record(registry, camera_id, scope)
    body = restore_redacted({**body, "id": camera_id}, stored.spec, safe_spec(stored.spec))
    new_id, spec = _validated(validate, body)
    if new_id != camera_id:
        raise _id_error(f"the camera's id became {new_id!r}, the path names {camera_id!r}", new_id)
    _check_target_scope(scope, spec)
    record = registry.put(spec)
    logger.info("camera %s replaced (version %d, uri %s)", camera_id, record.version, _shown_uri(spec))
    try:
        current = _latest_health(health).get(camera_id)
    except HealthUnavailableError:
        current = None  # the change is made: answer it, the health failure is logged
    return CameraView(record=record, health=current)


def remove_camera(registry: CameraRegistry, camera_id: str, scope: CameraScope = UNRESTRICTED) -> None:
    """Unregisters a camera (its worker stops it); `CameraNotFoundError` when there is none (in scope)."""
    _get_record(registry, camera_id, scope)
    if not registry.delete(camera_id):
        raise CameraNotFoundError(f"camera {camera_id!r} not found")
    logger.info("camera %s removed", camera_id)


def _shown_uri(spec: CameraSpec) -> str:
    uri = spec.get("uri")
    return redact_text(redact_uri(uri)) if isinstance(uri, str) else repr(uri)
