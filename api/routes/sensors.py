"""Hazard sensors: registry CRUD, readings in (batched, validated, rate-limited) and their history."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.deps import AuditDep, BodyTooLargeError, ConfigDep, SensorsDep, require
from api.principal import Permission, Principal
from api.schemas import ErrorOut
from api.sensor_schemas import (
    READINGS_BODY_OPENAPI,
    ReadingOut,
    ReadingPageOut,
    ReadingQueryParams,
    ReadingsAcceptedOut,
    SensorListOut,
    SensorOut,
)
from api.sensor_services import (
    SensorBodyError,
    SensorNotFoundError,
    SensorRateLimitedError,
    SensorScopeError,
    SensorService,
)
from events.auth import CameraScope
from events.sensors import ReadingQuery, ReadingsRejectedError, SensorRecord, SensorSpec

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/sensors", tags=["sensors"])

_UNAVAILABLE = {"model": ErrorOut, "description": "no sensors in this process, or the registry/sink failed"}
_NOT_FOUND = {"model": ErrorOut, "description": "no sensor with this id (in the caller's scope)"}
_OUT_OF_SCOPE = {
    "model": ErrorOut,
    "description": "the sensor's site and cameras are outside the caller's scope",
}

Reader = Annotated[Principal, require(Permission.SENSORS_READ)]
Writer = Annotated[Principal, require(Permission.SENSORS_WRITE)]


def spec_in_scope(scope: CameraScope, spec: SensorSpec) -> bool:
    """A sensor is in scope when its site is, or one of the cameras watching its area is."""
    return (
        scope.unrestricted
        or any(scope.allows(c, None) for c in spec.camera_ids)
        or scope.allows("", spec.site_id)
    )


def _scoped(sensors: SensorService, sensor_id: str, scope: CameraScope) -> SensorRecord:
    """The sensor, or `SensorNotFoundError` also when it is out of scope (its existence must not leak)."""
    record = sensors.get(sensor_id)
    if not spec_in_scope(scope, record.spec):
        raise SensorNotFoundError(f"sensor {sensor_id!r} not found")
    return record


def _check_target(scope: CameraScope, spec: SensorSpec) -> None:
    if not spec_in_scope(scope, spec):
        raise SensorScopeError(
            f"sensor {spec.id!r} of site {spec.site_id!r} is outside your scope ({scope.describe()})"
        )


@router.get("", response_model=SensorListOut, responses={503: _UNAVAILABLE})
def list_sensors(user: Reader, sensors: SensorsDep) -> SensorListOut:
    """Every registered sensor in the caller's scope, sorted by id."""
    records = [r for r in sensors.all() if spec_in_scope(user.scope, r.spec)]
    items = [SensorOut.from_record(r, sensors.counters(r.sensor_id)) for r in records]
    return SensorListOut(items=items, total=len(items))


@router.get("/{sensor_id}", response_model=SensorOut, responses={404: _NOT_FOUND, 503: _UNAVAILABLE})
def get_sensor(user: Reader, sensor_id: str, sensors: SensorsDep) -> SensorOut:
    return SensorOut.from_record(_scoped(sensors, sensor_id, user.scope), sensors.counters(sensor_id))


@router.post(
    "",
    response_model=SensorOut,
    status_code=201,
    responses={
        403: _OUT_OF_SCOPE,
        409: {"model": ErrorOut, "description": "a sensor with this id exists"},
        503: _UNAVAILABLE,
    },
)
def add_sensor(
    user: Writer, spec: SensorSpec, sensors: SensorsDep, response: Response, audit: AuditDep
) -> SensorOut:
    """Registers a sensor (its rules apply to the next reading)."""
    _check_target(user.scope, spec)
    record = sensors.add(spec)
    audit.record("sensor.create", f"sensor:{record.sensor_id}", actor=user)
    response.headers["Location"] = f"{router.prefix}/{quote(record.sensor_id, safe='')}"
    return SensorOut.from_record(record, sensors.counters(record.sensor_id))


@router.put(
    "/{sensor_id}",
    response_model=SensorOut,
    responses={403: _OUT_OF_SCOPE, 404: _NOT_FOUND, 503: _UNAVAILABLE},
)
def replace_sensor(
    user: Writer, sensor_id: str, spec: SensorSpec, sensors: SensorsDep, audit: AuditDep
) -> SensorOut:
    """Replaces a sensor's spec (the body's `id` must equal the path's); changed rules restart."""
    _scoped(sensors, sensor_id, user.scope)
    _check_target(user.scope, spec)
    record = sensors.replace(sensor_id, spec)
    audit.record("sensor.update", f"sensor:{sensor_id}", actor=user)
    return SensorOut.from_record(record, sensors.counters(sensor_id))


@router.delete(
    "/{sensor_id}", status_code=204, response_class=Response, responses={404: _NOT_FOUND, 503: _UNAVAILABLE}
)
def delete_sensor(user: Writer, sensor_id: str, sensors: SensorsDep, audit: AuditDep) -> Response:
    _scoped(sensors, sensor_id, user.scope)
    sensors.remove(sensor_id)
    audit.record("sensor.delete", f"sensor:{sensor_id}", actor=user)
    return Response(status_code=204)


async def read_body(request: Request, sensors: SensorsDep) -> bytes:
    """The raw body, read up to `body_max_bytes` (413 beyond)."""
    limit = sensors.limits.body_max_bytes
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise BodyTooLargeError(f"the readings body is larger than {limit} bytes")
    return bytes(raw)


BodyDep = Annotated[bytes, Depends(read_body)]


@router.post(
    "/{sensor_id}/readings",
    response_model=ReadingsAcceptedOut,
    status_code=202,
    openapi_extra=READINGS_BODY_OPENAPI,
    responses={
        404: _NOT_FOUND,
        422: {"description": "the batch is refused whole: each error's `loc` names the item and field"},
        429: {"model": ErrorOut, "description": "the sensor is over its rate (see Retry-After)"},
        503: _UNAVAILABLE,
    },
)
def post_readings(user: Writer, sensor_id: str, body: BodyDep, sensors: SensorsDep) -> ReadingsAcceptedOut:
    """A batch of readings `[{ts_ms, value, unit}, ...]`: all taken, or none (422 / 429)."""
    _scoped(sensors, sensor_id, user.scope)
    return ReadingsAcceptedOut(sensor_id=sensor_id, accepted=sensors.ingest(sensor_id, body))


@router.get(
    "/{sensor_id}/readings", response_model=ReadingPageOut, responses={404: _NOT_FOUND, 503: _UNAVAILABLE}
)
def get_readings(
    sensor_id: str,
    params: Annotated[ReadingQueryParams, Query()],
    sensors: SensorsDep,
    config: ConfigDep,
    user: Reader,
) -> ReadingPageOut:
    """A sensor's readings, newest first; page with `until_ms = next_until_ms`."""
    _scoped(sensors, sensor_id, user.scope)
    limit = params.limit or config.page_limit_default
    if limit > config.page_limit_max:
        msg = f"Input should be less than or equal to {config.page_limit_max}"
        raise RequestValidationError([{"type": "less_than_equal", "loc": ("query", "limit"), "msg": msg}])
    q = ReadingQuery(sensor_id, since_ms=params.since_ms, until_ms=params.until_ms, limit=limit)
    readings = sensors.history(q)
    more = len(readings) == limit and readings[-1].ts_ms > (params.since_ms or 0)
    return ReadingPageOut(
        sensor_id=sensor_id,
        items=[ReadingOut.from_reading(r) for r in readings],
        limit=limit,
        next_until_ms=readings[-1].ts_ms - 1 if more else None,
    )


Handler = Callable[[Request, Exception], Coroutine[Any, Any, Response]]


def _safe(value: Any) -> Any:
    """An error's input as JSON can carry it (NaN and infinities as text)."""
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


async def _unprocessable(request: Request, exc: Exception) -> Response:
    errors = getattr(exc, "errors", [])
    detail = [{**e, "loc": ["body", *e.get("loc", ())], "input": _safe(e.get("input"))} for e in errors]
    logger.info("%s %s: refused: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


async def _rate_limited(request: Request, exc: Exception) -> Response:
    retry_s = exc.retry_after_s if isinstance(exc, SensorRateLimitedError) else 1.0
    headers = {"Retry-After": str(max(1, math.ceil(min(retry_s, 3600.0))))}
    return JSONResponse({"detail": str(exc)}, status_code=429, headers=headers)


#: The sensor failures with HTTP statuses of their own (the rest are mapped in `api.app`).
ERROR_HANDLERS: dict[type[Exception], Handler] = {
    ReadingsRejectedError: _unprocessable,
    SensorBodyError: _unprocessable,
    SensorRateLimitedError: _rate_limited,
}
