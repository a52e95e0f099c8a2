"""Test doubles for the face API: an in-memory `FaceStore`, a recording `GalleryPublisher`, an exact
`FaceSearcher` over the store, and a fake `FaceEncoder` driven by the image's colour, with the PNG
images it reads (`face_png`)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image

from api.face_services import EncodedFace
from events.faces import (
    Erasure,
    FaceEmbedding,
    FaceNegative,
    Identity,
    IdentityChange,
    NegativeChange,
    Watchlist,
    WatchlistChange,
    same_person,
)
from tests.unit.list_fakes import FailingMethods, RecordingPublisher

#: The fake encoder reads the face count from the green channel in steps of this.
FACES_STEP = 40


class MemoryFaceStore(FailingMethods):
    """`events.faces.FaceStore` over dicts; a method named in `failing` raises `StoreError`."""

    def __init__(self) -> None:
        super().__init__()
        self.watchlists: dict[str, Watchlist] = {}
        self.identities: dict[str, Identity] = {}
        self.embeddings: dict[str, FaceEmbedding] = {}
        self.negatives: dict[str, FaceNegative] = {}

    def put_watchlist(self, record: Watchlist) -> None:
        self._check("put_watchlist")
        self.watchlists[record.watchlist_id] = record

    def get_watchlist(self, watchlist_id: str) -> Watchlist | None:
        return self.watchlists.get(watchlist_id)

    def list_watchlists(self) -> list[Watchlist]:
        return sorted(self.watchlists.values(), key=lambda w: w.name)

    def put_identity(self, record: Identity) -> None:
        self._check("put_identity")
        self.identities[record.identity_id] = record

    def get_identity(self, identity_id: str) -> Identity | None:
        return self.identities.get(identity_id)

    def list_identities(self, watchlist_id: str | None = None) -> list[Identity]:
        found = [i for i in self.identities.values() if watchlist_id in (None, i.watchlist_id)]
        return sorted(found, key=lambda i: i.name)

    def find_identities(self, watchlist_id: str, name: str, reference: str) -> list[Identity]:
        return [i for i in self.list_identities(watchlist_id) if same_person(i, name, reference)]

    def add_embeddings(self, records: list[FaceEmbedding]) -> None:
        self._check("add_embeddings")
        self.embeddings.update((e.embedding_id, e) for e in records)

    def image_shas(self, watchlist_id: str) -> set[str]:
        return {e.image_sha256 for e in self.embeddings.values() if e.watchlist_id == watchlist_id}

    def list_embeddings(
        self, identity_id: str | None = None, *, with_images: bool = False
    ) -> list[FaceEmbedding]:
        found = [e for e in self.embeddings.values() if identity_id in (None, e.identity_id)]
        found.sort(key=lambda e: e.created_ts_ms)
        return found if with_images else [e.model_copy(update={"image_jpeg": b""}) for e in found]

    def get_embedding(self, embedding_id: str) -> FaceEmbedding | None:
        return self.embeddings.get(embedding_id)

    def add_negative(self, record: FaceNegative) -> None:
        self._check("add_negative")
        self.negatives[record.negative_id] = record

    def list_negatives(self, identity_id: str | None = None) -> list[FaceNegative]:
        return [n for n in self.negatives.values() if identity_id in (None, n.identity_id)]

    def erase_identity(self, identity_id: str) -> Erasure:
        self._check("erase_identity")
        return self._erase({identity_id} & set(self.identities))

    def erase_watchlist(self, watchlist_id: str) -> Erasure:
        self._check("erase_watchlist")
        self.watchlists.pop(watchlist_id, None)
        return self._erase(
            {i.identity_id for i in self.identities.values() if i.watchlist_id == watchlist_id}
        )

    def _erase(self, identity_ids: set[str]) -> Erasure:
        embeddings = [k for k, e in self.embeddings.items() if e.identity_id in identity_ids]
        negatives = [k for k, n in self.negatives.items() if n.identity_id in identity_ids]
        for key in embeddings:
            del self.embeddings[key]
        for key in negatives:
            del self.negatives[key]
        for key in identity_ids:
            del self.identities[key]
        return Erasure(identities=len(identity_ids), embeddings=len(embeddings), negatives=len(negatives))


class RecordingGallery(RecordingPublisher[WatchlistChange | IdentityChange | NegativeChange]):
    """`events.faces.GalleryPublisher` keeping the changes; `fail` makes `publish` raise `BusError`."""


class ExactSearcher:
    """`FaceSearcher` by exact search over every enrolled face of a store (best face per identity)."""

    def __init__(self, store: MemoryFaceStore) -> None:
        self.store = store

    def search(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        best: dict[str, float] = {}
        query = np.asarray(vector, dtype=np.float64)
        for e in self.store.list_embeddings():
            distance = float(np.linalg.norm(np.asarray(e.vector) - query))
            best[e.identity_id] = min(distance, best.get(e.identity_id, distance))
        return sorted(best.items(), key=lambda item: item[1])[:k]


def fake_vector(seed: int) -> tuple[float, ...]:
    """A unit 128-d vector per seed (two seeds lie ~1.4 apart)."""
    v = np.random.default_rng(seed).normal(size=128)
    return tuple(float(x) for x in v / np.linalg.norm(v))


class ColourEncoder:
    """`FaceEncoder` reading the top-left pixel: green / FACES_STEP faces, each of the blue seed's vector."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, image_bgr: npt.NDArray[np.uint8]) -> list[EncodedFace]:
        self.calls += 1
        blue, green = int(image_bgr[0, 0, 0]), int(image_bgr[0, 0, 1])
        height, width = image_bgr.shape[:2]
        count = round(green / FACES_STEP)
        return [EncodedFace(xyxy=(0, 0, width, height), vector=fake_vector(blue), quality=0.8)] * count


def face_png(seed: int, faces: int = 1, size_wh: tuple[int, int] = (64, 48)) -> bytes:
    """A PNG that `ColourEncoder` finds `faces` faces of person `seed` in (0 <= seed < 256)."""
    image = Image.new("RGB", size_wh, (0, faces * FACES_STEP, seed))
    image.putpixel((size_wh[0] - 1, size_wh[1] - 1), (255, 255, 255))  # not a flat image
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
