"""Face watchlists: the stored records, the store's interface, and the changes sent to workers.

A watchlist (wanted, missing person, VIP, staff, ...) has a match threshold, a severity and an optional
expiry; an identity belongs to one watchlist and has one or more enrolled faces (`FaceEmbedding`: the
128-d encoding and the normalised enrolment image). A `FaceNegative` is a face an operator marked
"not this person" for one identity. Erasure removes an identity's rows for good (no versioned
tombstone that would keep the biometric data): identity, embeddings, images and negatives.

Workers never read the store for faces: they hold a gallery fed by `GalleryChange`s (the in-process
gallery embedded, the compacted `anfang.faces` topic distributed), so a change reaches them in seconds.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field, model_validator

from events.records import Record, Versioned
from events.schema import Severity

FACES_TOPIC = "anfang.faces"
EMBEDDING_DIM = 128
#: Default distance (Euclidean, encoder units) under which a face matches a list's identity. dlib's
#: encoder separates people at ~0.6; 0.5 trades a few missed matches for fewer false ones.
DEFAULT_THRESHOLD = 0.5

_ID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Purpose = Annotated[str, Field(min_length=3, max_length=500, description="why this biometric action")]
Vector = Annotated[list[float], Field(min_length=EMBEDDING_DIM, max_length=EMBEDDING_DIM)]


def new_id(prefix: str) -> str:
    """A fresh random id such as `wl_3f9c0a12b4d5e6f7` (prefix + 16 hex digits)."""
    return f"{prefix}_{secrets.token_hex(8)}"


class Watchlist(Versioned):
    watchlist_id: _ID
    name: str = Field(min_length=1, max_length=128)
    purpose: Purpose
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0.0, le=1.5)
    severity: Severity = Severity.HIGH


class Identity(Versioned):
    identity_id: _ID
    watchlist_id: _ID
    name: str = Field(min_length=1, max_length=200)
    reference: str = Field(default="", max_length=200, description="the integrator's own case or file id")
    purpose: Purpose


def same_person(identity: Identity, name: str, reference: str) -> bool:
    """Whether the identity is the one enrolled as `name` (trimmed, any case) with `reference`."""
    return (
        identity.name.strip().casefold() == name.strip().casefold()
        and identity.reference.strip() == reference.strip()
    )


class FaceEmbedding(Record):
    """One enrolled face: its encoding and the image it came from (JPEG, normalised on enrolment)."""

    embedding_id: _ID
    identity_id: _ID
    watchlist_id: _ID
    vector: Vector = Field(repr=False)
    image_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    image_jpeg: bytes = Field(default=b"", repr=False)
    quality: float = Field(default=0.0, ge=0.0, le=1.0)
    created_ts_ms: int = Field(ge=0)


class FaceNegative(Record):
    """A face an operator said is *not* `identity_id` (from a match event's track)."""

    negative_id: _ID
    identity_id: _ID
    watchlist_id: _ID
    vector: Vector = Field(repr=False)
    camera_id: str = ""
    track_id: int | None = None
    event_id: str = ""
    created_by: str = ""
    created_ts_ms: int = Field(ge=0)


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure removed from the store."""

    identities: int
    embeddings: int
    negatives: int


class FaceStore(Protocol):
    """Where watchlists, identities, enrolled faces and negatives are kept; raises
    `events.ports.StoreError` when the store cannot answer. `put_*` of a watchlist or identity appends
    its next version (latest wins); erasure deletes rows physically and returns once they are gone."""

    def put_watchlist(self, record: Watchlist) -> None: ...

    def get_watchlist(self, watchlist_id: str) -> Watchlist | None: ...

    def list_watchlists(self) -> list[Watchlist]:
        """Every watchlist, by name."""
        ...

    def put_identity(self, record: Identity) -> None: ...

    def get_identity(self, identity_id: str) -> Identity | None: ...

    def list_identities(self, watchlist_id: str | None = None) -> list[Identity]:
        """Identities (of one watchlist, or all), by name."""
        ...

    def find_identities(self, watchlist_id: str, name: str, reference: str) -> list[Identity]:
        """The watchlist's identities that are `same_person` as name and reference (the duplicate check at
        enrolment reads these, not the whole list)."""
        ...

    def add_embeddings(self, records: list[FaceEmbedding]) -> None: ...

    def list_embeddings(
        self, identity_id: str | None = None, *, with_images: bool = False
    ) -> list[FaceEmbedding]:
        """Enrolled faces (of one identity, or all), oldest first; `image_jpeg` is empty unless asked."""
        ...

    def get_embedding(self, embedding_id: str) -> FaceEmbedding | None:
        """One enrolled face with its image."""
        ...

    def image_shas(self, watchlist_id: str) -> set[str]:
        """SHA-256 of every image enrolled in the watchlist (duplicate checks read nothing else)."""
        ...

    def add_negative(self, record: FaceNegative) -> None: ...

    def list_negatives(self, identity_id: str | None = None) -> list[FaceNegative]: ...

    def erase_identity(self, identity_id: str) -> Erasure:
        """Deletes the identity, its embeddings, images and negatives for good."""
        ...

    def erase_watchlist(self, watchlist_id: str) -> Erasure:
        """Deletes the watchlist and everything of its identities for good."""
        ...


# --- what workers receive ------------------------------------------------------------------------


class WatchlistChange(Record):
    """A watchlist as workers need it; `watchlist` None = erased."""

    kind: Literal["watchlist"] = "watchlist"
    watchlist_id: _ID
    watchlist: Watchlist | None


class IdentityChange(Record):
    """An identity's whole gallery entry (its vectors, not its images); `removed` = erased."""

    kind: Literal["identity"] = "identity"
    identity_id: _ID
    watchlist_id: str = Field(default="", max_length=64, description="empty on a removal by expiry")
    name: str = ""
    expires_ts_ms: int | None = None
    vectors: list[Vector] = Field(default_factory=list, repr=False)
    removed: bool = False


class NegativeChange(Record):
    """A "not this person" negative; `negative` None = removed with its identity (its vector leaves the
    compacted topic too)."""

    kind: Literal["negative"] = "negative"
    negative_id: _ID = ""
    negative: FaceNegative | None = None

    @model_validator(mode="before")
    @classmethod
    def _id_from_negative(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("negative_id"):
            negative = data.get("negative")
            found = (
                negative.negative_id
                if isinstance(negative, FaceNegative)
                else (negative or {}).get("negative_id")
            )
            data = {**data, "negative_id": found}
        return data


GalleryChange = Annotated[WatchlistChange | IdentityChange | NegativeChange, Field(discriminator="kind")]


class GalleryMessage(Record):
    """The envelope of one change on the faces topic."""

    change: GalleryChange


def change_key(change: WatchlistChange | IdentityChange | NegativeChange) -> str:
    """The compaction key of a change on the faces topic: the latest change per key is all a worker
    needs (`watchlist:<id>`, `identity:<id>`, `negative:<id>`)."""
    if isinstance(change, WatchlistChange):
        return f"watchlist:{change.watchlist_id}"
    if isinstance(change, IdentityChange):
        return f"identity:{change.identity_id}"
    return f"negative:{change.negative_id}"


def erasure_changes(
    identity_id: str, watchlist_id: str, negatives: list[FaceNegative]
) -> list[WatchlistChange | IdentityChange | NegativeChange]:
    """What workers (and the compacted topic) get when an identity is erased: its removal, and the
    removal of each of its negatives."""
    changes: list[WatchlistChange | IdentityChange | NegativeChange] = [
        IdentityChange(identity_id=identity_id, watchlist_id=watchlist_id, removed=True)
    ]
    changes += [NegativeChange(negative_id=n.negative_id, negative=None) for n in negatives]
    return changes


def identity_change(identity: Identity, embeddings: list[FaceEmbedding]) -> IdentityChange:
    return IdentityChange(
        identity_id=identity.identity_id,
        watchlist_id=identity.watchlist_id,
        name=identity.name,
        expires_ts_ms=identity.expires_ts_ms,
        vectors=[list(e.vector) for e in embeddings],
    )


class GalleryPublisher(Protocol):
    """Sends gallery changes to every worker (in-process gallery, or the faces topic)."""

    def publish(self, change: WatchlistChange | IdentityChange | NegativeChange) -> None:
        """Raises `events.ports.BusError` when it cannot."""
        ...


def gallery_from_store(store: FaceStore) -> list[WatchlistChange | IdentityChange | NegativeChange]:
    """The whole gallery as changes, read from the store (an embedded worker's start)."""
    changes: list[WatchlistChange | IdentityChange | NegativeChange] = [
        WatchlistChange(watchlist_id=w.watchlist_id, watchlist=w) for w in store.list_watchlists()
    ]
    by_identity: dict[str, list[FaceEmbedding]] = {}
    for e in store.list_embeddings():
        by_identity.setdefault(e.identity_id, []).append(e)
    changes += [identity_change(i, by_identity.get(i.identity_id, [])) for i in store.list_identities()]
    changes += [NegativeChange(negative=n) for n in store.list_negatives()]
    return changes
