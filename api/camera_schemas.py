"""Models of `/v1/cameras`, and the camera body's place in the OpenAPI document.

The camera body is the pipeline's CameraConfig, which the API must not import: the handlers read it
as JSON and hand it to the injected validator, and the composition root passes its JSON Schema to
`create_app`. `camera_spec_components` turns that schema into OpenAPI components (`CameraSpec`
and its `$defs`, refs rewritten), which the POST and PUT bodies reference (`CAMERA_BODY_OPENAPI`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.camera_services import CameraView
from api.redaction import redact_text, safe_spec
from events.cameras import CameraStatus, OfflineCause

CAMERA_SPEC_COMPONENT = "CameraSpec"
_COMPONENTS = "#/components/schemas/"
_DEFS = "#/$defs/"

#: `openapi_extra` of POST and PUT: the body is the camera as in the YAML config.
CAMERA_BODY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "The camera as in the YAML config (zones, lines and rules included). A password in `uri` "
            "is stored for the worker and never returned: responses show `***`; sending `***` back "
            "unchanged in a PUT keeps the stored password."
        ),
        "content": {"application/json": {"schema": {"$ref": _COMPONENTS + CAMERA_SPEC_COMPONENT}}},
    }
}

#: The body's schema when the composition root gave none (validation is then minimal too).
GENERIC_CAMERA_SCHEMA: dict[str, Any] = {
    "title": CAMERA_SPEC_COMPONENT,
    "type": "object",
    "description": "A camera as in the YAML config.",
    "properties": {"id": {"type": "string", "minLength": 1}, "uri": {"type": "string", "minLength": 1}},
    "required": ["id", "uri"],
    "additionalProperties": True,
}


def camera_spec_components(schema: Mapping[str, Any] | None, existing: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAPI components to add for the camera body: `CameraSpec` plus its `$defs`.

    A def identical to one of the app's `existing` components (a shared enum) is that component; one
    that differs from an existing component of the same name becomes `CameraSpec_<name>`.
    """
    if schema is None:
        return {CAMERA_SPEC_COMPONENT: copy.deepcopy(GENERIC_CAMERA_SCHEMA)}
    root = copy.deepcopy(dict(schema))
    defs: dict[str, Any] = root.pop("$defs", None) or {}
    shared = {name for name, d in defs.items() if name in existing and existing[name] == d}
    names = {
        name: f"{CAMERA_SPEC_COMPONENT}_{name}"
        if name not in shared and (name in existing or name == CAMERA_SPEC_COMPONENT)
        else name
        for name in defs
    }

    def ref(target: str) -> str:
        if target == "#":
            return _COMPONENTS + CAMERA_SPEC_COMPONENT
        if target.startswith(_DEFS):
            name = target.removeprefix(_DEFS)
            return _COMPONENTS + names.get(name, name)
        return target

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: ref(v) if k == "$ref" and isinstance(v, str) else rewrite(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    components = {CAMERA_SPEC_COMPONENT: rewrite(root)}
    components.update({names[name]: rewrite(d) for name, d in defs.items() if name not in shared})
    return components


class CameraListParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: list[CameraStatus] = Field(
        default_factory=list,
        description="only cameras in these states; repeatable: status=offline&status=reconnecting",
    )


class CameraOut(BaseModel):
    """A registered camera: its state as its worker last reported it, and its spec without credentials."""

    id: str
    status: CameraStatus = Field(description="`starting` until a worker reports the camera")
    worker_id: str | None = Field(description="the worker running it; null until reported")
    analysed_fps: float = Field(ge=0, description="frames analysed per second, recent")
    decoded_fps: float = Field(ge=0, description="frames decoded per second, recent")
    detector_fps: float = Field(ge=0, description="frames per second the detector ran on, recent")
    gated_share: float = Field(
        ge=0, le=1, description="share of analysed frames that motion gating kept from the detector, recent"
    )
    frames_analysed: int = Field(ge=0)
    frames_dropped: int = Field(ge=0, description="frames dropped because analysis fell behind")
    reconnects: int = Field(ge=0)
    last_frame_age_s: float | None = Field(description="seconds since the last frame; null before the first")
    resolution_wh: tuple[int, int] | None
    cause: OfflineCause | None = Field(description="why the camera is offline or reconnecting")
    detail: str | None = Field(description="the last error in the source's words, credentials redacted")
    since_ts_ms: int | None = Field(description="UTC ms when the camera entered its status")
    version: int = Field(ge=1, description="the spec's version in the registry (each PUT adds one)")
    updated_ts_ms: int = Field(ge=0, description="UTC ms of the spec's last change")
    spec: dict[str, Any] = Field(description="the camera as configured; credentials replaced by `***`")

    @classmethod
    def from_view(cls, view: CameraView) -> CameraOut:
        h = view.health
        return cls(
            id=view.record.camera_id,
            status=view.status,
            worker_id=(h.worker_id or None) if h else None,
            analysed_fps=h.analysed_fps if h else 0.0,
            decoded_fps=h.decoded_fps if h else 0.0,
            detector_fps=h.detector_fps if h else 0.0,
            gated_share=h.gated_share if h else 0.0,
            frames_analysed=h.frames_analysed if h else 0,
            frames_dropped=h.frames_dropped if h else 0,
            reconnects=h.reconnects if h else 0,
            last_frame_age_s=h.last_frame_age_s if h else None,
            resolution_wh=h.resolution_wh if h else None,
            cause=h.cause if h else None,
            detail=redact_text(h.detail) if h and h.detail else None,
            since_ts_ms=h.since_ts_ms if h else None,
            version=view.record.version,
            updated_ts_ms=view.record.updated_ts_ms,
            spec=safe_spec(view.record.spec),
        )


class CameraListOut(BaseModel):
    items: list[CameraOut]
    total: int = Field(ge=0, description="cameras listed")

    @classmethod
    def from_views(cls, views: list[CameraView]) -> CameraListOut:
        return cls(items=[CameraOut.from_view(v) for v in views], total=len(views))
