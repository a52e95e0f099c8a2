"""What is done with a face match and its evidence, without HTTP: "not this person" (the match's face
becomes a negative of its identity) and the unblurred original of a snapshot (privileged, audited by
the route)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import TypeGuard

from api import services
from api.face_services import (
    FACE_MATCH_TYPE,
    FaceBackend,
    FaceConflictError,
    input_error,
)
from events.auth import CameraScope
from events.faces import EMBEDDING_DIM, FaceNegative, NegativeChange, new_id
from events.ports import EventStore

logger = logging.getLogger(__name__)

ORIGINALS_DIR = "originals"
SNAPSHOTS_DIR = "snapshots"


# --- "not this person" ---------------------------------------------------------------------------


def not_this_person(
    backend: FaceBackend, event_id: uuid.UUID, *, scope: CameraScope, actor: str
) -> FaceNegative:
    """Stores the face of a `face_match` event as a negative of its identity and tells the workers."""
    event = services.get_event(backend.events, event_id, scope)  # 404 before anything else (scope)
    store, _ = backend.face_store(), backend.publisher()
    if event.type != FACE_MATCH_TYPE:
        raise input_error(
            ("path", "event_id"), f"event {event_id} is a {event.type}, not a {FACE_MATCH_TYPE}"
        )
    attributes = event.attributes.model_dump()
    identity_id, watchlist_id = attributes.get("identity_id"), attributes.get("watchlist_id")
    vector = attributes.get("face_embedding")
    if not isinstance(identity_id, str) or not isinstance(watchlist_id, str) or not _is_vector(vector):
        raise input_error(("path", "event_id"), f"event {event_id} carries no identity and face to mark")
    identity = store.get_identity(identity_id)
    if identity is None:
        raise FaceConflictError(f"identity {identity_id} of event {event_id} has been erased")
    negative = FaceNegative(
        negative_id=new_id("neg"),
        identity_id=identity.identity_id,
        watchlist_id=identity.watchlist_id,
        vector=[float(v) for v in vector],
        camera_id=event.camera_id,
        track_id=event.track_id,
        event_id=str(event.event_id),
        created_by=actor,
        created_ts_ms=backend.now_ms(),
    )
    store.add_negative(negative)
    backend.publish(NegativeChange(negative=negative))
    return negative


def _is_vector(value: object) -> TypeGuard[list[float]]:
    return (
        isinstance(value, list)
        and len(value) == EMBEDDING_DIM
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


# --- the unblurred original of a snapshot --------------------------------------------------------


def load_original_snapshot(
    store: EventStore, data_dir: Path, event_id: uuid.UUID, *, max_bytes: int, scope: CameraScope
) -> bytes:
    """The unblurred original kept beside the event's snapshot (`originals/...` for `snapshots/...`)."""
    event = services.get_event(store, event_id, scope)
    if event.snapshot is None:
        raise services.NotFoundError(f"event {event_id} has no snapshot")
    parts = event.snapshot.uri.split("/")
    if len(parts) < 2 or parts[0] != SNAPSHOTS_DIR:
        raise services.NotFoundError(f"event {event_id} has no original kept")
    path = services.resolve_snapshot_path(data_dir, "/".join([ORIGINALS_DIR, *parts[1:]]))
    recorded = event.snapshot.original_sha256  # None on events before schema 1.2
    try:
        return services.read_verified(path, recorded, max_bytes=max_bytes, event_id=event_id, what="original")
    except (services.NotFoundError, services.SnapshotPathError):  # no file there (or a folder)
        raise services.NotFoundError(
            f"event {event_id} has no original kept (its camera keeps none)"
        ) from None
