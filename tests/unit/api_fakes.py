"""Test doubles for the API tests: an in-memory `EventStore`, event/snapshot builders, and the camera
side: an in-memory `CameraRegistry` and `HealthView`, and a camera validator over a small pydantic model
shaped like the pipeline's CameraConfig (nested models, so its JSON Schema has `$defs`); sign-in: a fake
authenticator, an audit sink, and an app's client signed in with them."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from api.app import create_app
from api.config import ApiConfig
from api.principal import AuthenticationError, Principal
from events.audit import AuditRecord
from events.auth import CameraScope, Role
from events.cameras import (
    CameraHealth,
    CameraRecord,
    CameraSpec,
    CameraSpecError,
    CameraStatus,
    RegistryError,
)
from events.ports import EventGroupBy, EventPage, EventQuery, EventStore, StoreError
from events.schema import Event, Snapshot
from tests.unit.events_samples import build_event, counts_by_type, reference_aggregate, reference_page

T0_MS = 1_795_000_000_000  # 2026-11-18T...Z


class FakeEventStore:
    """`events.ports.EventStore` over a dict; time bounds inclusive; `fail` makes every call raise."""

    def __init__(self, events: Sequence[Event] = ()) -> None:
        self.events: dict[uuid.UUID, Event] = {}
        self.fail: str | None = None
        self.queries: list[EventQuery] = []
        self.states: dict[uuid.UUID, tuple[str, str | None]] = {}  # alert (status, assignee) for filters
        self.insert(events)

    def _check(self) -> None:
        if self.fail is not None:
            raise StoreError(self.fail)

    def ensure_schema(self) -> None:
        self._check()

    def insert(self, events: Sequence[Event]) -> int:
        self._check()
        new = [e for e in events if e.event_id not in self.events]
        self.events.update((e.event_id, e) for e in new)
        return len(new)

    def query(self, q: EventQuery) -> EventPage:
        self._check()
        self.queries.append(q)
        return reference_page(self.events.values(), q, self.states)

    def aggregate(self, q: EventQuery, group_by: EventGroupBy) -> dict[str, int]:
        self._check()
        self.queries.append(q)
        return reference_aggregate(self.events.values(), q, group_by, self.states)

    def get(self, event_id: uuid.UUID) -> Event | None:
        self._check()
        return self.events.get(event_id)

    def count_by_type(self, camera_id: str | None = None) -> dict[str, int]:
        self._check()
        return counts_by_type(self.events.values(), camera_id)

    def close(self) -> None:
        pass


#: The API tests' event builder: one alert-worthy zone intrusion on "cam-1" unless told otherwise.
make_event = build_event


def jpeg_bytes(seed: int, size_wh: tuple[int, int] = (160, 90)) -> bytes:
    """A real JPEG (encoded by cv2) whose pixels depend on `seed`."""
    w, h = size_wh
    rng = np.random.default_rng(seed)
    image = np.full((h, w, 3), rng.integers(30, 200, size=3), dtype=np.uint8)
    cv2.rectangle(image, (w // 4, h // 4), (w // 2, h - 10), (0, 0, 255), 2)
    cv2.putText(image, f"#{seed}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return bytes(buf.tobytes())


def write_snapshot(data_dir: Path, camera_id: str, event_id: uuid.UUID, content: bytes) -> Snapshot:
    """Writes like pipelines.evidence: `snapshots/<camera>/<day>/<event_id>.jpg`, relative uri + sha256."""
    rel = Path("snapshots") / camera_id / "2026-11-24" / f"{event_id}.jpg"
    (data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (data_dir / rel).write_bytes(content)
    return Snapshot(uri=rel.as_posix(), sha256=hashlib.sha256(content).hexdigest())


def attach_snapshot(data_dir: Path, event: Event, seed: int) -> tuple[Event, bytes]:
    """`event` with a snapshot file written under `data_dir` (matching SHA-256), and the file's bytes."""
    content = jpeg_bytes(seed)
    snap = write_snapshot(data_dir, event.camera_id, event.event_id, content)
    return event.model_copy(update={"snapshot": snap}), content


class FakeCameraRegistry:
    """`events.cameras.CameraRegistry` over a dict; `fail` makes every call raise `RegistryError`."""

    def __init__(self, specs: Sequence[CameraSpec] = ()) -> None:
        self.records: dict[str, CameraRecord] = {}
        self.fail: str | None = None
        self.clock_ms = T0_MS
        for spec in specs:
            self.put(spec)

    def _check(self) -> None:
        if self.fail is not None:
            raise RegistryError(self.fail)

    def list(self) -> list[CameraRecord]:
        self._check()
        return [self.records[k] for k in sorted(self.records)]

    def get(self, camera_id: str) -> CameraRecord | None:
        self._check()
        return self.records.get(camera_id)

    def put(self, spec: CameraSpec) -> CameraRecord:
        self._check()
        camera_id = str(spec["id"])
        old = self.records.get(camera_id)
        self.clock_ms += 1000
        record = CameraRecord(
            camera_id=camera_id,
            spec=dict(spec),
            version=1 if old is None else old.version + 1,
            updated_ts_ms=self.clock_ms,
        )
        self.records[camera_id] = record
        return record

    def delete(self, camera_id: str) -> bool:
        self._check()
        return self.records.pop(camera_id, None) is not None

    def close(self) -> None:
        pass


class FakeHealthView:
    """`events.cameras.HealthView` over a dict; `fail` makes `latest` raise."""

    def __init__(self, health: Sequence[CameraHealth] = ()) -> None:
        self.health = {h.camera_id: h for h in health}
        self.fail: str | None = None

    def latest(self) -> Mapping[str, CameraHealth]:
        if self.fail is not None:
            raise ConnectionError(self.fail)
        return dict(self.health)

    def close(self) -> None:
        pass


def camera_health(camera_id: str, status: CameraStatus, **fields: Any) -> CameraHealth:
    """A health row with plausible figures for `status` (online: 10 FPS, 1080p), overridable."""
    online = status == CameraStatus.ONLINE
    defaults: dict[str, Any] = {
        "worker_id": "worker-1",
        "analysed_fps": 10.0 if online else 0.0,
        "decoded_fps": 25.0 if online else 0.0,
        "frames_analysed": 1200 if online else 0,
        "last_frame_age_s": 0.1 if online else None,
        "resolution_wh": (1920, 1080) if online else None,
        "since_ts_ms": T0_MS,
    }
    return CameraHealth(camera_id=camera_id, status=status, **(defaults | fields))


class FakeZone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    polygon: list[tuple[float, float]] = Field(min_length=3)


class FakeRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    type: str = "zone_intrusion"
    zone: str


class FakeCameraConfig(BaseModel):
    """Shaped like the pipeline's CameraConfig: what `fake_validate_camera` checks."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    uri: str = Field(min_length=1)
    site_id: str = Field(default="default-site", min_length=1)
    analysis_fps: float = Field(default=10.0, gt=0)
    zones: list[FakeZone] = Field(default_factory=list)
    rules: list[FakeRule] = Field(default_factory=list)

    @field_validator("uri")
    @classmethod
    def _scheme(cls, uri: str) -> str:
        if not uri.startswith(("rtsp://", "rtsps://", "http://", "https://", "file://", "v4l2://")):
            raise ValueError(f"unsupported scheme in {uri}")  # echoes the uri, as real validators do
        return uri

    @model_validator(mode="after")
    def _rules_name_zones(self) -> FakeCameraConfig:
        zones = {z.id for z in self.zones}
        for rule in self.rules:
            if rule.zone not in zones:
                raise ValueError(f"rule {rule.id!r} names a missing zone {rule.zone!r}")
        return self


def fake_validate_camera(spec: CameraSpec) -> CameraSpec:
    """The composition root's validator, in small: pydantic errors become `CameraSpecError`."""
    try:
        config = FakeCameraConfig.model_validate(spec)
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors()]
        raise CameraSpecError(f"invalid camera: {exc.error_count()} errors", errors) from exc
    return config.model_dump(mode="json")


#: What the composition root passes as `camera_schema`.
FAKE_CAMERA_SCHEMA: dict[str, Any] = FakeCameraConfig.model_json_schema()

#: A password that must never appear in a response or a log line.
SECRET = "s3cr3t-Pa55"
CAMERA_URI = f"rtsp://admin:{SECRET}@10.0.0.5:554/stream1"


def camera_spec(camera_id: str = "gate", **fields: Any) -> CameraSpec:
    """A valid camera body: an RTSP uri with a password, one zone and a rule on it."""
    spec: CameraSpec = {
        "id": camera_id,
        "uri": CAMERA_URI,
        "zones": [{"id": "road", "polygon": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]}],
        "rules": [{"id": "road-intrusion", "zone": "road"}],
    }
    return spec | fields


# --- sign-in -------------------------------------------------------------------------------------


class FakeAuthenticator:
    """`api.principal.Authenticator` over fixed credentials: `<role>` or `<role>@<site or camera,...>`.

    E.g. "admin" is an unrestricted admin, "operator@cam-a" an operator limited to camera cam-a,
    "operator@site:north" one limited to site north. Anything else is refused like a forged token.
    """

    def authenticate(self, credential: str) -> Principal:
        role_name, _, scope_text = credential.partition("@")
        try:
            role = Role(role_name)
        except ValueError:
            raise AuthenticationError("invalid token") from None
        sites = tuple(p.removeprefix("site:") for p in scope_text.split(",") if p.startswith("site:"))
        cameras = tuple(p for p in scope_text.split(",") if p and not p.startswith("site:"))
        return Principal(name=f"test-{role_name}", role=role, scope=CameraScope(sites=sites, cameras=cameras))


def bearer(credential: str = "admin") -> dict[str, str]:
    """Headers of a request signed in with a `FakeAuthenticator` credential."""
    return {"Authorization": f"Bearer {credential}"}


class ListAuditSink:
    """`events.audit.AuditSink` keeping records in a list."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def append(self, record: AuditRecord) -> None:
        self.records.append(record)


def signed_in_client(
    data_dir: Path,
    audit: ListAuditSink,
    credential: str = "admin",
    config: ApiConfig | None = None,
    *,
    store: EventStore | None = None,
    **services: Any,
) -> TestClient:
    """A client of `create_app` over `store` (a new `FakeEventStore` when None) with a
    `FakeAuthenticator`, signed in as `credential`, its audit trail in `audit`; `services` are
    create_app's other arguments."""
    events = FakeEventStore() if store is None else store
    app = create_app(
        events, data_dir, config=config, authenticator=FakeAuthenticator(), audit=audit, **services
    )
    return TestClient(app, headers=bearer(credential))
