"""The worker's face gallery: watchlists, identities and negatives as received, behind one 1:N index.

Fed by `events.faces` gallery changes (in-process embedded, the faces topic distributed), read by every
camera's face recogniser and by the API's search. Thread-safe: changes arrive on a reader thread while
the inference thread searches. Distances are between L2-normalised encodings (`face_index.normalise`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from events.faces import IdentityChange, NegativeChange, Watchlist, WatchlistChange
from pipelines.recognition.face_index import FaceIndex, FaceIndexConfig, normalise
from pipelines.recognition.votes import Candidate

logger = logging.getLogger(__name__)

AnyChange = WatchlistChange | IdentityChange | NegativeChange
TrackKey = tuple[str, int]  # (camera_id, track_id)


@dataclass(frozen=True, slots=True)
class GalleryIdentity:
    identity_id: str
    watchlist_id: str
    name: str
    expires_ts_ms: int | None
    faces: int


def _due(expires_ts_ms: int | None, now_ms: int) -> bool:
    return expires_ts_ms is not None and expires_ts_ms <= now_ms


class FaceGallery:
    """Watchlists + identities + negatives held in memory for matching."""

    def __init__(
        self,
        index_config: FaceIndexConfig | None = None,
        clock_ms: Callable[[], int] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        """`cache_dir`: where the index keeps its graph between runs (None: not kept)."""
        self._index = FaceIndex(index_config, cache_dir)
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._lock = threading.Lock()
        self._lists: dict[str, Watchlist] = {}
        self._identities: dict[str, GalleryIdentity] = {}
        self._negatives: dict[str, tuple[str, TrackKey | None]] = {}  # negative id -> identity, track
        self._track_blocks: dict[TrackKey, set[str]] = {}
        #: bumped on every change (recognisers re-decide open tracks when it moves)
        self.version = 0

    # --- changes -----------------------------------------------------------------------------------
    def apply_all(self, changes: Iterable[AnyChange]) -> None:
        for change in changes:
            self.apply(change)

    def apply(self, change: AnyChange) -> None:
        with self._lock:
            if isinstance(change, WatchlistChange):
                self._apply_watchlist(change)
            elif isinstance(change, IdentityChange):
                self._apply_identity(change)
            else:
                self._apply_negative(change)
            self.version += 1

    def _apply_watchlist(self, change: WatchlistChange) -> None:
        if change.watchlist is not None:
            self._lists[change.watchlist_id] = change.watchlist
            return
        self._lists.pop(change.watchlist_id, None)
        for identity in [i for i in self._identities.values() if i.watchlist_id == change.watchlist_id]:
            self._remove_identity(identity.identity_id)

    def _apply_identity(self, change: IdentityChange) -> None:
        self._remove_identity(change.identity_id)
        if change.removed:
            return
        vectors = [normalise(v) for v in change.vectors]
        if vectors:
            keys = [(change.identity_id, f"{change.identity_id}#{i}") for i in range(len(vectors))]
            self._index.add_many(keys, np.stack(vectors))
        self._identities[change.identity_id] = GalleryIdentity(
            change.identity_id, change.watchlist_id, change.name, change.expires_ts_ms, len(vectors)
        )

    def _remove_identity(self, identity_id: str) -> None:
        if self._identities.pop(identity_id, None) is not None:
            self._index.remove_identity(identity_id)  # its negatives go with it
        for negative_id in [n for n, (owner, _) in self._negatives.items() if owner == identity_id]:
            del self._negatives[negative_id]
        for blocked in self._track_blocks.values():
            blocked.discard(identity_id)

    def _apply_negative(self, change: NegativeChange) -> None:
        n = change.negative
        if n is None:  # removed with its identity, whose removal took it out of the index already
            self._negatives.pop(change.negative_id, None)
            return
        if n.negative_id in self._negatives or n.identity_id not in self._identities:
            return  # replayed, or about an identity erased since
        self._index.add_negative(n.identity_id, normalise(n.vector))
        track = (n.camera_id, n.track_id) if n.camera_id and n.track_id is not None else None
        self._negatives[n.negative_id] = (n.identity_id, track)
        if track is not None:
            self._track_blocks.setdefault(track, set()).add(n.identity_id)

    # --- reads -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock:
            return len(self._identities)

    def identity(self, identity_id: str) -> GalleryIdentity | None:
        with self._lock:
            return self._identities.get(identity_id)

    def watchlist(self, watchlist_id: str) -> Watchlist | None:
        with self._lock:
            return self._lists.get(watchlist_id)

    def blocked_for(self, camera_id: str, track_id: int) -> frozenset[str]:
        """Identities an operator said this track is not."""
        with self._lock:
            return frozenset(self._track_blocks.get((camera_id, track_id), ()))

    def candidates(
        self,
        embedding: npt.ArrayLike,
        *,
        k: int = 5,
        watchlists: Sequence[str] = (),
        blocked: frozenset[str] = frozenset(),
    ) -> list[Candidate]:
        """Identities near a face (its raw encoding) with their list's threshold: live (not expired)
        identities of live lists (`watchlists`: only these; empty = all), none of `blocked`."""
        query = normalise(embedding)
        now_ms = self._clock_ms()
        found: list[Candidate] = []
        for match in self._index.search(query, k=k + len(blocked)):
            with self._lock:
                identity = self._identities.get(match.identity_id)
                wl = self._lists.get(identity.watchlist_id) if identity is not None else None
            if identity is None or wl is None or match.identity_id in blocked:
                continue
            if watchlists and wl.watchlist_id not in watchlists:
                continue
            if wl.expired(now_ms) or _due(identity.expires_ts_ms, now_ms):
                continue
            found.append(Candidate(match.identity_id, match.distance, wl.threshold))
        return found[:k]

    def search(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """(identity id, distance), nearest first: the API's search by image (expired ones excluded)."""
        return [(c.identity_id, c.distance) for c in self.candidates(np.asarray(vector, np.float32), k=k)]

    def publish(self, change: AnyChange) -> None:
        """`events.faces.GalleryPublisher` in one process (embedded): the change applies at once."""
        self.apply(change)
