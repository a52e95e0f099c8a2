"""Face watchlists without HTTP: the ports the API needs, watchlist and identity reads and changes,
erasure. Enrolment and search: `api.face_enrolment`; "not this person" and unmasking: `api.face_review`.

Ports (the composition root wires real ones; without them the routes answer 503):
- `FaceEncoder`: an image -> the faces in it (box, 128-d vector, quality);
- `FaceSearcher`: a vector -> the nearest enrolled identities;
- `events.faces.FaceStore` and `events.faces.GalleryPublisher`.
Every change is published to the workers' gallery only after the store took it. Failures are typed;
`api.routes.faces.ERROR_HANDLERS` maps them to status codes.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ValidationError

from api.config import ApiConfig
from events.faces import (
    Erasure,
    FaceEmbedding,
    FaceStore,
    GalleryPublisher,
    Identity,
    IdentityChange,
    NegativeChange,
    Watchlist,
    WatchlistChange,
    erasure_changes,
    new_id,
)
from events.ports import BusError, EventStore

logger = logging.getLogger(__name__)

FACE_MATCH_TYPE = "face_match"
_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_Record = TypeVar("_Record", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class EncodedFace:
    """One face found in an image: its box (pixels), its 128-d encoding and its quality (0..1)."""

    xyxy: tuple[int, int, int, int]
    vector: tuple[float, ...]
    quality: float


class FaceEncoder(Protocol):
    def encode(self, image_bgr: npt.NDArray[np.uint8]) -> list[EncodedFace]:
        """Every face in an H x W x 3 uint8 BGR image (none: empty list)."""
        ...


class FaceSearcher(Protocol):
    def search(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """Up to `k` (identity_id, distance) pairs, nearest first."""
        ...


class SerialEncoder:
    """A `FaceEncoder` called by one request thread at a time (a dlib model is not thread-safe)."""

    def __init__(self, encoder: FaceEncoder) -> None:
        self._encoder = encoder
        self._lock = threading.Lock()

    def encode(self, image_bgr: npt.NDArray[np.uint8]) -> list[EncodedFace]:
        with self._lock:
            return self._encoder.encode(image_bgr)


class FacesDisabledError(RuntimeError):
    """A port this request needs is not wired in this process (-> 503)."""


class FaceNotFoundError(LookupError):
    """No such watchlist, identity or enrolled face, or not where the path says (-> 404)."""


class FaceConflictError(ValueError):
    """A duplicate (enrolment, watchlist name) or an identity erased meanwhile (-> 409)."""


class GalleryPublishError(RuntimeError):
    """Stored, but the running workers could not be told (-> 503)."""


class FaceInputError(ValueError):
    """A request the API cannot act on: bad images, face counts, values (-> 422, or 413 when `too_large`).
    `errors` are shaped like FastAPI's validation errors (type, loc, msg)."""

    def __init__(self, errors: list[dict[str, Any]], *, too_large: bool = False) -> None:
        super().__init__("; ".join(str(e["msg"]) for e in errors))
        self.errors = errors
        self.too_large = too_large


def input_error(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> FaceInputError:
    return FaceInputError([{"type": kind, "loc": list(loc), "msg": msg}])


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class FaceBackend:
    """What the face routes work with; a port left None makes the routes that need it answer 503."""

    events: EventStore
    config: ApiConfig
    store: FaceStore | None = None
    gallery: GalleryPublisher | None = None
    encoder: FaceEncoder | None = None
    searcher: FaceSearcher | None = None
    now_ms: Callable[[], int] = field(default=_now_ms)

    def face_store(self) -> FaceStore:
        if self.store is None:
            raise FacesDisabledError("face watchlists are not enabled in this process (no face store)")
        return self.store

    def publisher(self) -> GalleryPublisher:
        if self.gallery is None:
            raise FacesDisabledError(
                "face watchlists cannot be changed in this process (no gallery publisher)"
            )
        return self.gallery

    def face_encoder(self) -> FaceEncoder:
        if self.encoder is None:
            raise FacesDisabledError("faces cannot be encoded in this process (no face model)")
        return self.encoder

    def face_searcher(self) -> FaceSearcher:
        if self.searcher is None:
            raise FacesDisabledError("face search is not enabled in this process (no face index)")
        return self.searcher

    def publish(self, change: WatchlistChange | IdentityChange | NegativeChange) -> None:
        try:
            self.publisher().publish(change)
        except BusError as exc:
            logger.error("gallery change %s stored but not published: %s", type(change).__name__, exc)
            raise GalleryPublishError(
                f"saved, but the running workers could not be told ({exc}); they load it on their next start"
            ) from exc


# --- watchlists ----------------------------------------------------------------------------------


def get_watchlist(backend: FaceBackend, watchlist_id: str) -> Watchlist:
    found = backend.face_store().get_watchlist(watchlist_id) if _ID_RE.match(watchlist_id) else None
    if found is None:
        raise FaceNotFoundError(f"watchlist {watchlist_id} not found")
    return found


def list_watchlists(backend: FaceBackend) -> list[Watchlist]:
    return backend.face_store().list_watchlists()


def check_future(backend: FaceBackend, expires_ts_ms: int | None, loc: tuple[str | int, ...]) -> None:
    if expires_ts_ms is not None and expires_ts_ms <= backend.now_ms():
        raise input_error(loc, "the expiry is in the past")


def _check_name_free(backend: FaceBackend, name: str, watchlist_id: str = "") -> None:
    key = name.strip().casefold()
    for other in backend.face_store().list_watchlists():
        if other.name.strip().casefold() == key and other.watchlist_id != watchlist_id:
            raise FaceConflictError(f"a watchlist named {other.name!r} exists already ({other.watchlist_id})")


def create_watchlist(backend: FaceBackend, fields: dict[str, Any], *, actor: str) -> Watchlist:
    """A new watchlist from `fields` (name, purpose and optional threshold, severity, expires_ts_ms)."""
    store, _ = backend.face_store(), backend.publisher()
    check_future(backend, fields.get("expires_ts_ms"), ("body", "expires_ts_ms"))
    _check_name_free(backend, str(fields["name"]))
    now = backend.now_ms()
    record = validated(
        Watchlist, {**fields, "watchlist_id": new_id("wl"), "created_by": actor} | stamps(now, now)
    )
    store.put_watchlist(record)
    backend.publish(WatchlistChange(watchlist_id=record.watchlist_id, watchlist=record))
    return record


def update_watchlist(backend: FaceBackend, watchlist_id: str, changes: dict[str, Any]) -> Watchlist:
    """The watchlist's next version with `changes` (name, threshold, severity, expires_ts_ms) applied."""
    store, _ = backend.face_store(), backend.publisher()
    current = get_watchlist(backend, watchlist_id)
    if "expires_ts_ms" in changes:
        check_future(backend, changes["expires_ts_ms"], ("body", "expires_ts_ms"))
    if "name" in changes:
        _check_name_free(backend, str(changes["name"]), watchlist_id)
    data = (
        current.model_dump() | changes | {"version": current.version + 1, "updated_ts_ms": backend.now_ms()}
    )
    record = validated(Watchlist, data)
    store.put_watchlist(record)
    backend.publish(WatchlistChange(watchlist_id=record.watchlist_id, watchlist=record))
    return record


def delete_watchlist(backend: FaceBackend, watchlist_id: str) -> Erasure:
    """Erases the watchlist with every identity, enrolled face and negative of it."""
    store, _ = backend.face_store(), backend.publisher()
    get_watchlist(backend, watchlist_id)
    identities = store.list_identities(watchlist_id)
    negatives = store.list_negatives()
    erasure = store.erase_watchlist(watchlist_id)
    for identity in identities:
        mine = [n for n in negatives if n.identity_id == identity.identity_id]
        for change in erasure_changes(identity.identity_id, watchlist_id, mine):
            backend.publish(change)
    backend.publish(WatchlistChange(watchlist_id=watchlist_id, watchlist=None))
    return erasure


# --- identities ----------------------------------------------------------------------------------


def get_identity(backend: FaceBackend, watchlist_id: str, identity_id: str) -> Identity:
    """The identity when it belongs to that watchlist (one FaceNotFoundError otherwise)."""
    get_watchlist(backend, watchlist_id)
    found = backend.face_store().get_identity(identity_id) if _ID_RE.match(identity_id) else None
    if found is None or found.watchlist_id != watchlist_id:
        raise FaceNotFoundError(f"identity {identity_id} not found in watchlist {watchlist_id}")
    return found


def list_identities(backend: FaceBackend, watchlist_id: str) -> list[Identity]:
    get_watchlist(backend, watchlist_id)
    return backend.face_store().list_identities(watchlist_id)


def faces_of(backend: FaceBackend, identity_id: str) -> list[FaceEmbedding]:
    """The identity's enrolled faces (no images read)."""
    return backend.face_store().list_embeddings(identity_id)


def get_face_image(backend: FaceBackend, watchlist_id: str, identity_id: str, embedding_id: str) -> bytes:
    """The stored (normalised JPEG) image of one enrolled face."""
    get_identity(backend, watchlist_id, identity_id)
    face = backend.face_store().get_embedding(embedding_id) if _ID_RE.match(embedding_id) else None
    if face is None or face.identity_id != identity_id or not face.image_jpeg:
        raise FaceNotFoundError(f"face {embedding_id} of identity {identity_id} not found")
    return face.image_jpeg


def erase_identity(backend: FaceBackend, watchlist_id: str, identity_id: str) -> Erasure:
    """Deletes the identity, its faces, images and negatives for good; workers drop it from their gallery."""
    store, _ = backend.face_store(), backend.publisher()
    identity = get_identity(backend, watchlist_id, identity_id)
    negatives = store.list_negatives(identity_id)
    erasure = store.erase_identity(identity_id)
    for change in erasure_changes(identity_id, identity.watchlist_id, negatives):
        backend.publish(change)
    return erasure


# --- helpers -------------------------------------------------------------------------------------


def stamps(created_ms: int, updated_ms: int) -> dict[str, int]:
    return {"created_ts_ms": created_ms, "updated_ts_ms": updated_ms}


def validated(kind: type[_Record], data: dict[str, Any]) -> _Record:
    """`kind` built from `data`; a value its model refuses becomes a 422 naming the body field."""
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = []
        for error in exc.errors():
            errors.append({"type": error["type"], "loc": ["body", *error["loc"]], "msg": error["msg"]})
        raise FaceInputError(errors) from None
