"""Cameras at run time: list with live state, add, replace, remove (workers apply changes without restart)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Response

from api import camera_services
from api.camera_schemas import CAMERA_BODY_OPENAPI, CameraListOut, CameraListParams, CameraOut
from api.deps import AuditDep, CameraBodyDep, CamerasDep, CameraValidatorDep, HealthDep, require
from api.principal import Permission, Principal
from api.schemas import ErrorOut

router = APIRouter(prefix="/v1/cameras", tags=["cameras"])

_UNAVAILABLE = {
    "model": ErrorOut,
    "description": "no camera registry in this process, or the registry or health view is unreachable",
}
_NOT_FOUND = {"model": ErrorOut, "description": "no camera with this id"}
_INVALID = {
    "description": "the body is not a valid camera; each error's `loc` names the field, from 'body'",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
}
_TOO_LARGE = {"model": ErrorOut, "description": "the body is over the configured size limit"}
_OUT_OF_SCOPE = {"model": ErrorOut, "description": "the camera's site is outside the caller's scope"}

Reader = Annotated[Principal, require(Permission.CAMERAS_READ)]
Writer = Annotated[Principal, require(Permission.CAMERAS_WRITE)]


@router.get("", response_model=CameraListOut, responses={503: _UNAVAILABLE})
def list_cameras(
    params: Annotated[CameraListParams, Query()], cameras: CamerasDep, health: HealthDep, user: Reader
) -> CameraListOut:
    """Every camera in the caller's scope with its worker's latest state (`starting` until reported)."""
    views = camera_services.list_cameras(cameras, health, statuses=params.status, scope=user.scope)
    return CameraListOut.from_views(views)


@router.get("/{camera_id}", response_model=CameraOut, responses={404: _NOT_FOUND, 503: _UNAVAILABLE})
def get_camera(user: Reader, camera_id: str, cameras: CamerasDep, health: HealthDep) -> CameraOut:
    return CameraOut.from_view(camera_services.get_camera(cameras, health, camera_id, user.scope))


@router.post(
    "",
    response_model=CameraOut,
    status_code=201,
    openapi_extra=CAMERA_BODY_OPENAPI,
    responses={
        403: _OUT_OF_SCOPE,
        409: {"model": ErrorOut, "description": "a camera with this id exists"},
        413: _TOO_LARGE,
        422: _INVALID,
        503: _UNAVAILABLE,
    },
)
def add_camera(
    user: Writer,
    cameras: CamerasDep,
    validate: CameraValidatorDep,
    body: CameraBodyDep,
    response: Response,
    audit: AuditDep,
) -> CameraOut:
    """Adds a camera; its worker starts it. The response's `status` is `starting`."""
    view = camera_services.add_camera(cameras, validate, body, user.scope)
    audit.record("camera.create", f"camera:{view.record.camera_id}", actor=user)
    response.headers["Location"] = f"{router.prefix}/{quote(view.record.camera_id, safe='')}"
    return CameraOut.from_view(view)


@router.put(
    "/{camera_id}",
    response_model=CameraOut,
    openapi_extra=CAMERA_BODY_OPENAPI,
    responses={403: _OUT_OF_SCOPE, 404: _NOT_FOUND, 413: _TOO_LARGE, 422: _INVALID, 503: _UNAVAILABLE},
)
def replace_camera(
    user: Writer,
    camera_id: str,
    cameras: CamerasDep,
    health: HealthDep,
    validate: CameraValidatorDep,
    body: CameraBodyDep,
    audit: AuditDep,
) -> CameraOut:
    """Replaces a camera's spec (the body's `id`, if any, must equal the path's); the worker applies it."""
    view = camera_services.replace_camera(cameras, health, validate, camera_id, body, user.scope)
    audit.record("camera.update", f"camera:{camera_id}", actor=user, detail=f"version {view.record.version}")
    return CameraOut.from_view(view)


@router.delete(
    "/{camera_id}",
    status_code=204,
    response_class=Response,
    responses={404: _NOT_FOUND, 503: _UNAVAILABLE},
)
def delete_camera(user: Writer, camera_id: str, cameras: CamerasDep, audit: AuditDep) -> Response:
    """Removes a camera; its worker stops it."""
    camera_services.remove_camera(cameras, camera_id, user.scope)
    audit.record("camera.delete", f"camera:{camera_id}", actor=user)
    return Response(status_code=204)
