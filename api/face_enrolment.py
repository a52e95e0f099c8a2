"""Enrolment (new identity, more images) and 1:N search by image, without HTTP.

Every image of a request is checked before anything is stored (nothing is stored half), stage by stage,
each stage reporting every image it refuses: size (413) -> same file twice, or already enrolled in the
watchlist (409) -> decodable image within the pixel limit (413 / 422) -> exactly one face (422, saying
which image and how many faces were found). Only then are the identity and its faces written, and the
workers' gallery told.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from api.face_images import DecodedImage, ImageRejectedError, decode_image, read_capped
from api.face_services import (
    FACE_MATCH_TYPE,
    EncodedFace,
    FaceBackend,
    FaceConflictError,
    FaceInputError,
    check_future,
    get_identity,
    get_watchlist,
    input_error,
    stamps,
    validated,
)
from events.auth import CameraScope
from events.faces import FaceEmbedding, Identity, Watchlist, identity_change, new_id
from events.ports import EventQuery, StoreError
from events.schema import Event

logger = logging.getLogger(__name__)

_FILENAME_SHOWN = 80


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded file: the client's name for it and its content."""

    filename: str
    stream: BinaryIO


@dataclass(frozen=True, slots=True)
class PreparedFace:
    """An upload that passed every check: its single face and its normalised JPEG."""

    sha256: str
    face: EncodedFace
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class SearchMatch:
    identity: Identity
    watchlist: Watchlist
    distance: float
    within_threshold: bool
    events: list[Event]


def _label(index: int, upload: Upload) -> str:
    name = upload.filename[:_FILENAME_SHOWN] if upload.filename else "unnamed"
    return f"image {index + 1} ({name})"


def _error(field: str, index: int, msg: str, kind: str) -> dict[str, Any]:
    return {"type": kind, "loc": ["body", field, index], "msg": msg}


def prepare_faces(
    backend: FaceBackend,
    uploads: Sequence[Upload],
    *,
    field: str,
    enrolled_shas: set[str],
    keep_images: bool = True,
) -> list[PreparedFace]:
    """Checks every upload (module docstring) and returns each one's face (and, with `keep_images`, its
    normalised JPEG); nothing is stored."""
    config = backend.config
    encoder = backend.face_encoder()
    if not uploads:
        raise input_error(("body", field), "at least one image is needed", "missing")
    if len(uploads) > config.face_images_per_request:
        raise input_error(
            ("body", field),
            f"{len(uploads)} images sent, at most {config.face_images_per_request} per request",
        )
    contents = _read_all(uploads, field, max_bytes=config.face_image_max_bytes)
    decoded = _decode_all(uploads, contents, field, enrolled_shas, max_pixels=config.face_image_max_pixels)
    errors: list[dict[str, Any]] = []
    faces: list[EncodedFace] = []
    for i, image in enumerate(decoded):
        found = encoder.encode(image.bgr())
        if len(found) != 1:
            errors.append(
                _error(
                    field,
                    i,
                    f"{_label(i, uploads[i])} has {len(found)} faces; exactly one is needed",
                    "faces",
                )
            )
        else:
            faces.append(found[0])
    if errors:
        raise FaceInputError(errors)
    side = config.face_image_stored_max_side_px
    return [
        PreparedFace(
            sha256=image.sha256, face=face, jpeg=image.jpeg(max_side_px=side) if keep_images else b""
        )
        for image, face in zip(decoded, faces, strict=True)
    ]


def _read_all(uploads: Sequence[Upload], field: str, *, max_bytes: int) -> list[bytes]:
    contents: list[bytes] = []
    errors: list[dict[str, Any]] = []
    too_large = False
    for i, upload in enumerate(uploads):
        try:
            contents.append(read_capped(upload.stream, max_bytes=max_bytes))
        except ImageRejectedError as exc:
            too_large = too_large or exc.too_large
            errors.append(_error(field, i, f"{_label(i, upload)}: {exc}", "image"))
    if errors:
        raise FaceInputError(errors, too_large=too_large)
    return contents


def _decode_all(
    uploads: Sequence[Upload], contents: list[bytes], field: str, enrolled_shas: set[str], *, max_pixels: int
) -> list[DecodedImage]:
    decoded: list[DecodedImage] = []
    errors: list[dict[str, Any]] = []
    too_large = False
    seen: dict[str, int] = {}
    for i, (upload, data) in enumerate(zip(uploads, contents, strict=True)):
        try:
            image = decode_image(data, max_pixels=max_pixels)
        except ImageRejectedError as exc:
            too_large = too_large or exc.too_large
            errors.append(_error(field, i, f"{_label(i, upload)}: {exc}", "image"))
            continue
        if image.sha256 in enrolled_shas:
            raise FaceConflictError(f"{_label(i, upload)} is enrolled in this watchlist already")
        if image.sha256 in seen:
            raise FaceConflictError(f"{_label(i, upload)} is the same file as image {seen[image.sha256] + 1}")
        seen[image.sha256] = i
        decoded.append(image)
    if errors:
        raise FaceInputError(errors, too_large=too_large)
    return decoded


def _enrolled_shas(backend: FaceBackend, watchlist_id: str) -> set[str]:
    """SHA-256 of every image enrolled in the watchlist (no image read)."""
    return backend.face_store().image_shas(watchlist_id)


def _embeddings(identity: Identity, prepared: list[PreparedFace], now_ms: int) -> list[FaceEmbedding]:
    return [
        FaceEmbedding(
            embedding_id=new_id("emb"),
            identity_id=identity.identity_id,
            watchlist_id=identity.watchlist_id,
            vector=list(p.face.vector),
            image_sha256=p.sha256,
            image_jpeg=p.jpeg,
            quality=min(1.0, max(0.0, p.face.quality)),
            created_ts_ms=now_ms,
        )
        for p in prepared
    ]


def enrol(
    backend: FaceBackend,
    watchlist_id: str,
    *,
    fields: dict[str, Any],
    uploads: Sequence[Upload],
    actor: str,
) -> tuple[Identity, list[FaceEmbedding]]:
    """A new identity (`fields`: name, purpose, reference, expires_ts_ms) with one face per upload."""
    store, _ = backend.face_store(), backend.publisher()
    watchlist = _open_watchlist(backend, watchlist_id)
    check_future(backend, fields.get("expires_ts_ms"), ("body", "expires_ts_ms"))
    name, reference = str(fields["name"]).strip(), str(fields.get("reference") or "").strip()
    enrolled = store.find_identities(watchlist_id, name, reference)
    if enrolled:
        raise FaceConflictError(
            f"{enrolled[0].name!r} (reference {reference!r}) is enrolled in this watchlist already "
            f"({enrolled[0].identity_id}): add images to it instead"
        )
    prepared = prepare_faces(
        backend, uploads, field="images", enrolled_shas=_enrolled_shas(backend, watchlist_id)
    )
    now = backend.now_ms()
    identity = validated(
        Identity,
        {**fields, "identity_id": new_id("id"), "watchlist_id": watchlist.watchlist_id, "created_by": actor}
        | stamps(now, now),
    )
    embeddings = _embeddings(identity, prepared, now)
    store.put_identity(identity)
    try:
        store.add_embeddings(embeddings)
    except StoreError:
        _undo(backend, identity)
        raise
    backend.publish(identity_change(identity, embeddings))
    return identity, embeddings


def _open_watchlist(backend: FaceBackend, watchlist_id: str) -> Watchlist:
    """The watchlist, refused (409) once expired: it is about to be erased."""
    watchlist = get_watchlist(backend, watchlist_id)
    if watchlist.expired(backend.now_ms()):
        raise FaceConflictError(f"watchlist {watchlist_id} has expired and is about to be erased")
    return watchlist


def _undo(backend: FaceBackend, identity: Identity) -> None:
    """Removes an identity whose faces could not be stored (best effort: the store just failed)."""
    try:
        backend.face_store().erase_identity(identity.identity_id)
    except StoreError as exc:
        logger.error("identity %s left without faces: its removal failed too: %s", identity.identity_id, exc)


def add_images(
    backend: FaceBackend, watchlist_id: str, identity_id: str, uploads: Sequence[Upload]
) -> tuple[Identity, list[FaceEmbedding]]:
    """More faces of an identity; returns it with every enrolled face (no images)."""
    store, _ = backend.face_store(), backend.publisher()
    _open_watchlist(backend, watchlist_id)
    identity = get_identity(backend, watchlist_id, identity_id)
    if identity.expired(backend.now_ms()):
        raise FaceConflictError(f"identity {identity_id} has expired and is about to be erased")
    prepared = prepare_faces(
        backend, uploads, field="images", enrolled_shas=_enrolled_shas(backend, watchlist_id)
    )
    store.add_embeddings(_embeddings(identity, prepared, backend.now_ms()))
    faces = store.list_embeddings(identity_id)
    backend.publish(identity_change(identity, faces))
    return identity, faces


def search(
    backend: FaceBackend, upload: Upload, *, k: int, scope: CameraScope
) -> tuple[EncodedFace, list[SearchMatch]]:
    """The face in the image (exactly one), its `k` nearest identities and their past matches in `scope`."""
    store, searcher = backend.face_store(), backend.face_searcher()
    if not 1 <= k <= backend.config.face_search_k_max:
        raise input_error(("body", "k"), f"k must be 1..{backend.config.face_search_k_max}")
    (prepared,) = prepare_faces(backend, [upload], field="image", enrolled_shas=set(), keep_images=False)
    matches: list[SearchMatch] = []
    seen: set[str] = set()
    now = backend.now_ms()
    for identity_id, distance in searcher.search(prepared.face.vector, k):
        if identity_id in seen:
            continue
        seen.add(identity_id)
        identity = store.get_identity(identity_id)
        watchlist = None if identity is None else store.get_watchlist(identity.watchlist_id)
        if identity is None or watchlist is None or identity.expired(now) or watchlist.expired(now):
            continue  # erased or expired since the index was built
        events = _past_matches(backend, identity_id, scope)
        matches.append(
            SearchMatch(identity, watchlist, float(distance), distance <= watchlist.threshold, events)
        )
    return prepared.face, matches


def _past_matches(backend: FaceBackend, identity_id: str, scope: CameraScope) -> list[Event]:
    limit = backend.config.face_search_events_max
    if limit == 0:
        return []
    q = EventQuery(
        types=(FACE_MATCH_TYPE,),
        text=identity_id,
        scope=None if scope.unrestricted else scope,
        limit=limit,
        with_total=False,
    )
    page = backend.events.query(q)
    return [e for e in page.events if e.attributes.model_dump().get("identity_id") == identity_id]
