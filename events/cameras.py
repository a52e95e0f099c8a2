"""Cameras as data that travels: the registry of camera specs and the workers' health heartbeats.

The camera *spec* is the camera exactly as in the YAML config (id, uri, zones, lines, rules, ...),
validated by the pipeline's models where it is used; here it is an opaque JSON object, so the bus, the
store and the API carry it without knowing the pipeline. Credentials inside `uri` are part of the
spec (workers need them) and are removed by `redact_spec` before anything is shown or logged.

- `CameraRegistry`: the cameras of a deployment (put / delete / get / list). Embedded: a file in the
  data folder; distributed: the compacted `anfang.cameras` topic (key = camera id, tombstone = removed).
- `CameraFeed`: what one worker must run: changes to *its* cameras (all of them when embedded; the
  partitions the consumer group gave it when distributed).
- `HeartbeatPublisher` / `HealthView`: workers publish `WorkerHeartbeat`s (per-camera state) on
  `anfang.health`; the API reads the latest state of each camera.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

#: A camera spec as JSON (the YAML's camera mapping); validated by the pipeline's CameraConfig.
CameraSpec = dict[str, Any]


class CameraStatus(StrEnum):
    STARTING = "starting"
    ONLINE = "online"
    OFFLINE = "offline"
    RECONNECTING = "reconnecting"
    FINISHED = "finished"
    STOPPED = "stopped"


class OfflineCause(StrEnum):
    UNREACHABLE = "unreachable"
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"
    STREAM_ENDED = "stream_ended"
    STALLED = "stalled"
    DECODE_ERROR = "decode_error"


class CameraSpecError(ValueError):
    """A camera spec failed validation. `errors` are pydantic-style dicts (`loc`, `msg`, `type`)."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [{"loc": ("body",), "msg": message, "type": "value_error"}]


class RegistryError(RuntimeError):
    """The camera registry is unreachable or refused a change: a user-facing cause."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CameraRecord(_Frozen):
    """One camera of the registry: its spec (with credentials), a version counter and when it changed."""

    camera_id: str
    spec: CameraSpec
    version: int = Field(ge=1)
    updated_ts_ms: int = Field(ge=0)


class CameraHealth(_Frozen):
    """One camera's runtime state as its worker sees it (a row of a heartbeat)."""

    camera_id: str
    status: CameraStatus
    worker_id: str = ""
    analysed_fps: float = 0.0
    decoded_fps: float = 0.0
    frames_analysed: int = 0
    detector_fps: float = Field(default=0.0, description="frames per second the detector ran on")
    gated_share: float = Field(
        default=0.0, description="share of analysed frames motion gating kept from the detector"
    )
    frames_dropped: int = 0
    reconnects: int = 0
    last_frame_age_s: float | None = None
    resolution_wh: tuple[int, int] | None = None
    cause: OfflineCause | None = None
    detail: str | None = Field(default=None, description="last error, one line, credentials redacted")
    since_ts_ms: int | None = Field(default=None, description="when the camera entered this status")


class WorkerHeartbeat(_Frozen):
    """What a worker publishes every few seconds on `anfang.health` (key = worker id)."""

    worker_id: str
    ts_ms: int = Field(ge=0)
    cameras: list[CameraHealth] = Field(default_factory=list)

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json_bytes(cls, raw: bytes | str) -> WorkerHeartbeat:
        return cls.model_validate_json(raw)


@dataclass(frozen=True, slots=True)
class CameraChange:
    """A camera to (re)start with `spec`, or to stop when `spec` is None."""

    camera_id: str
    spec: CameraSpec | None


class CameraRegistry(Protocol):
    def list(self) -> list[CameraRecord]:
        """Every camera, sorted by id."""
        ...

    def get(self, camera_id: str) -> CameraRecord | None: ...

    def put(self, spec: CameraSpec) -> CameraRecord:
        """Add or replace the camera `spec["id"]` (the caller has validated the spec)."""
        ...

    def delete(self, camera_id: str) -> bool:
        """Remove a camera; False when there was none."""
        ...

    def close(self) -> None: ...


class CameraFeed(Protocol):
    def poll(self, timeout_s: float) -> list[CameraChange]:
        """Changes to this worker's cameras since the last poll (possibly empty; waits up to timeout)."""
        ...

    def close(self) -> None: ...


class HeartbeatPublisher(Protocol):
    def publish(self, heartbeat: WorkerHeartbeat) -> None: ...

    def close(self) -> None: ...


class HealthView(Protocol):
    def latest(self) -> Mapping[str, CameraHealth]:
        """The most recent state of every camera heard from (camera id -> health), stale ones marked."""
        ...

    def close(self) -> None: ...


def redact_uri(uri: str) -> str:
    """The URI without its password (safe to log and to show)."""
    try:
        parts = urllib.parse.urlsplit(uri)
        password = parts.password
    except ValueError:
        return uri
    if password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


_USERINFO = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def redact_text(text: str) -> str:
    """Any `scheme://user:password@` inside free text (library messages) with the password as `***`."""
    return _USERINFO.sub(r"\1***@", text)


def redact_spec(spec: CameraSpec) -> CameraSpec:
    """A copy of the spec safe to show: the password inside `uri` replaced by `***`."""
    out = dict(spec)
    if isinstance(out.get("uri"), str):
        out["uri"] = redact_uri(out["uri"])
    return out


def camera_id_of(spec: CameraSpec) -> str:
    """The camera id of a spec (`spec["id"]`); CameraSpecError naming `id` when missing or not a string."""
    camera_id = spec.get("id")
    if not isinstance(camera_id, str) or not camera_id.strip():
        raise CameraSpecError(
            "camera spec needs a non-empty string 'id'",
            [{"loc": ("body", "id"), "msg": "a non-empty string is required", "type": "value_error"}],
        )
    return camera_id


def merge_heartbeats(
    heartbeats: Iterable[tuple[WorkerHeartbeat, float]], stale_after_s: float
) -> dict[str, CameraHealth]:
    """The latest state of every camera from `(heartbeat, age_s)` pairs, one per worker.

    A camera reported by several workers (it moved) takes the state of the newest heartbeat. The cameras
    of a worker whose heartbeat is older than `stale_after_s` are reported `offline`, detail
    "worker <id> silent for N s".
    """
    merged: dict[str, CameraHealth] = {}
    for heartbeat, age_s in sorted(heartbeats, key=lambda pair: pair[0].ts_ms):
        stale = age_s > stale_after_s
        for camera in heartbeat.cameras:
            update: dict[str, Any] = {}
            if not camera.worker_id:
                update["worker_id"] = heartbeat.worker_id
            if stale:
                update["status"] = CameraStatus.OFFLINE
                update["detail"] = f"worker {heartbeat.worker_id} silent for {age_s:.0f} s"
            merged[camera.camera_id] = camera.model_copy(update=update) if update else camera
    return merged
