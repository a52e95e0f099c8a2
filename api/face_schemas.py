"""Request and response bodies of the face routes (watchlists, identities, search, "not this person").

Responses never carry a face vector or an image: enrolled faces are listed by id, SHA-256 and quality,
and an image is fetched on its own (with a purpose, audited).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.face_enrolment import SearchMatch
from api.face_services import EncodedFace
from api.public_events import public_event
from api.record_schemas import InBody, OffsetPageOut, PatchIn, VersionedOut
from api.schemas import snapshot_url_for
from events.faces import DEFAULT_THRESHOLD, Erasure, FaceEmbedding, FaceNegative, Identity, Purpose, Watchlist
from events.schema import Event, Severity

_THRESHOLD_DESCRIPTION = (
    "Euclidean distance (encoder units) under which a face matches this list's identities"
)


class WatchlistIn(InBody):
    name: str = Field(min_length=1, max_length=128)
    purpose: Purpose
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0.0, le=1.5, description=_THRESHOLD_DESCRIPTION)
    severity: Severity = Severity.HIGH
    expires_ts_ms: int | None = Field(default=None, ge=0, description="UTC epoch ms when the list is erased")


class WatchlistPatch(PatchIn):
    """The fields to change; `purpose` is why (audited), not a new purpose of the list."""

    purpose: Purpose
    name: str | None = Field(default=None, min_length=1, max_length=128)
    threshold: float | None = Field(default=None, gt=0.0, le=1.5, description=_THRESHOLD_DESCRIPTION)
    severity: Severity | None = None
    expires_ts_ms: int | None = Field(default=None, ge=0, description="new expiry; null removes it")


class WatchlistOut(VersionedOut):
    ID_FIELD = "watchlist_id"

    name: str
    purpose: str
    threshold: float
    severity: Severity

    @classmethod
    def of(cls, w: Watchlist) -> WatchlistOut:
        return cls(**cls.fields_of(w))


class WatchlistListOut(BaseModel):
    items: list[WatchlistOut]


def face_image_url(watchlist_id: str, identity_id: str, embedding_id: str) -> str:
    return f"/v1/watchlists/{watchlist_id}/identities/{identity_id}/faces/{embedding_id}/image"


class FaceOut(BaseModel):
    """One enrolled face, without its vector or image."""

    id: str
    image_sha256: str = Field(description="SHA-256 of the image file as uploaded")
    quality: float
    created_ts_ms: int
    image_url: str = Field(description="the stored (normalised) image; needs `?purpose=`, audited")

    @classmethod
    def of(cls, e: FaceEmbedding) -> FaceOut:
        return cls(
            id=e.embedding_id,
            image_sha256=e.image_sha256,
            quality=e.quality,
            created_ts_ms=e.created_ts_ms,
            image_url=face_image_url(e.watchlist_id, e.identity_id, e.embedding_id),
        )


class IdentityOut(VersionedOut):
    ID_FIELD = "identity_id"

    watchlist_id: str
    name: str
    reference: str
    purpose: str
    faces: list[FaceOut]

    @classmethod
    def of(cls, i: Identity, faces: list[FaceEmbedding]) -> IdentityOut:
        return cls(faces=[FaceOut.of(e) for e in faces], **cls.fields_of(i))


class IdentityListOut(OffsetPageOut):
    items: list[IdentityOut]


class ErasureOut(BaseModel):
    """What was deleted for good."""

    identities: int
    embeddings: int
    negatives: int

    @classmethod
    def of(cls, e: Erasure) -> ErasureOut:
        return cls(identities=e.identities, embeddings=e.embeddings, negatives=e.negatives)


class SearchFaceOut(BaseModel):
    """The face found in the searched image."""

    xyxy: tuple[int, int, int, int]
    quality: float


class MatchEventOut(BaseModel):
    """A past `face_match` of the identity (its face vector left out)."""

    event_id: str
    ts_ms: int
    camera_id: str
    site_id: str
    track_id: int | None
    severity: Severity
    alert: bool
    snapshot_url: str | None
    attributes: dict[str, Any]

    @classmethod
    def of(cls, e: Event) -> MatchEventOut:
        attributes = public_event(e).attributes.model_dump(mode="json")
        return cls(
            event_id=str(e.event_id),
            ts_ms=e.ts_ms,
            camera_id=e.camera_id,
            site_id=e.site_id,
            track_id=e.track_id,
            severity=e.severity,
            alert=e.alert,
            snapshot_url=snapshot_url_for(e.event_id) if e.snapshot is not None else None,
            attributes=attributes,
        )


class SearchMatchOut(BaseModel):
    identity_id: str
    name: str
    reference: str
    watchlist_id: str
    watchlist_name: str
    distance: float
    threshold: float = Field(description="the watchlist's match threshold")
    within_threshold: bool = Field(description="distance <= threshold: a camera would have matched it")
    events: list[MatchEventOut] = Field(description="its latest face_match events in your camera scope")

    @classmethod
    def of(cls, m: SearchMatch) -> SearchMatchOut:
        return cls(
            identity_id=m.identity.identity_id,
            name=m.identity.name,
            reference=m.identity.reference,
            watchlist_id=m.watchlist.watchlist_id,
            watchlist_name=m.watchlist.name,
            distance=m.distance,
            threshold=m.watchlist.threshold,
            within_threshold=m.within_threshold,
            events=[MatchEventOut.of(e) for e in m.events],
        )


class SearchOut(BaseModel):
    face: SearchFaceOut
    matches: list[SearchMatchOut] = Field(description="nearest first")

    @classmethod
    def of(cls, face: EncodedFace, matches: list[SearchMatch]) -> SearchOut:
        return cls(
            face=SearchFaceOut(xyxy=face.xyxy, quality=face.quality),
            matches=[SearchMatchOut.of(m) for m in matches],
        )


class NotThisPersonIn(InBody):
    purpose: Purpose
    comment: str = Field(default="", max_length=1000)


class NegativeOut(BaseModel):
    """The stored negative (its vector left out)."""

    id: str
    identity_id: str
    watchlist_id: str
    event_id: str
    camera_id: str
    track_id: int | None
    created_by: str
    created_ts_ms: int

    @classmethod
    def of(cls, n: FaceNegative) -> NegativeOut:
        return cls(id=n.negative_id, **n.model_dump(exclude={"negative_id", "vector"}))
