"""Per-track face decisions: keep a track's best faces, then one quality-weighted vote over them.

Not per frame: a track collects faces as it moves; `BestFaces` keeps the `keep_faces` of highest
quality (ties keep the earlier face), and `decide_track` votes once over the kept faces:
  1. each kept face asks the matcher for its candidates and votes for the nearest one (lowest distance,
     then identity id), with weight = its quality; faces of quality <= 0 do not vote, a face with no
     candidate votes for nobody (its weight still counts in the total)
  2. the identity with the largest vote weight wins; equal weights go to the lower weighted mean
     distance, then to the smaller identity id (deterministic)
  3. the winner is recognised when the quality-weighted mean distance of the faces that voted for it is
     under its list's threshold and its vote share (its weight / all voting weight) is at least
     `min_vote_share`; otherwise the track is unknown
  confidence = vote share x (threshold - mean distance) / threshold, clipped to 0..1: 1 for a
  unanimous vote of identical faces, 0 at the threshold or for unknown.
Pure: the matcher is any callable from one embedding to its candidates (an index search, a table).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
_WEIGHT_DIGITS = 9  # weights and shares equal to 1e-9 are equal (sums of floats differ in the last bits)


class FaceVoteConfig(BaseModel):
    """How a track's faces are kept and voted on."""

    model_config = ConfigDict(extra="forbid")

    keep_faces: int = Field(default=5, ge=1, le=100, description="best faces kept per track (by quality)")
    min_vote_share: float = Field(
        default=0.5, ge=0.0, le=1.0, description="the winner needs at least this share of the vote weight"
    )


class Scored(Protocol):
    @property
    def quality(self) -> float: ...


class EncodedFace(Protocol):
    @property
    def quality(self) -> float: ...

    @property
    def embedding(self) -> F32: ...


@dataclass(frozen=True, slots=True)
class TrackFace:
    """One face of a track: combined quality (0..1), its 128-d encoding, when and where it was seen."""

    quality: float
    embedding: F32 = field(repr=False)
    ts_s: float = 0.0
    box_xyxy: tuple[int, int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """An identity near a face: its distance (Euclidean, encoder units) and its list's threshold."""

    identity_id: str
    distance: float
    threshold: float


FaceMatcher = Callable[[F32], Sequence[Candidate]]


@dataclass(frozen=True, slots=True)
class TrackDecision:
    """The outcome of a track's vote; `identity_id` None means unknown (or no face voted)."""

    identity_id: str | None
    confidence: float
    faces: int
    nearest_id: str | None = None
    distance: float | None = None
    threshold: float | None = None
    vote_share: float = 0.0

    @property
    def known(self) -> bool:
        return self.identity_id is not None


S = TypeVar("S", bound=Scored)


class BestFaces(Generic[S]):
    """The `keep` faces of highest quality of one track, best first; ties keep the earlier face."""

    def __init__(self, keep: int) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.keep = keep
        self._faces: list[S] = []

    def would_keep(self, quality: float) -> bool:
        """Whether a face of this quality would be kept (ask before paying for its encoding)."""
        return len(self._faces) < self.keep or quality > self._faces[-1].quality

    def offer(self, face: S) -> bool:
        """Keeps the face if it is among the best; returns whether it was kept."""
        if not self.would_keep(face.quality):
            return False
        self._faces.append(face)
        self._faces.sort(key=lambda f: -f.quality)  # stable: earlier faces stay ahead of equal ones
        del self._faces[self.keep :]
        return True

    @property
    def faces(self) -> list[S]:
        return list(self._faces)

    def __len__(self) -> int:
        return len(self._faces)


@dataclass(slots=True)
class _Tally:
    weight: float = 0.0
    weighted_distance: float = 0.0
    threshold: float = float("inf")

    @property
    def mean_distance(self) -> float:
        return self.weighted_distance / self.weight


def decide_track(
    faces: Sequence[EncodedFace], matcher: FaceMatcher, min_vote_share: float = 0.5
) -> TrackDecision:
    """One quality-weighted vote over a track's kept faces (rules in the module docstring)."""
    tallies: dict[str, _Tally] = {}
    total = 0.0
    voters = 0
    for face in faces:
        if face.quality <= 0.0:
            continue
        total += face.quality
        voters += 1
        candidates = matcher(face.embedding)
        if not candidates:
            continue
        nearest = min(candidates, key=lambda c: (c.distance, c.identity_id))
        tally = tallies.setdefault(nearest.identity_id, _Tally())
        tally.weight += face.quality
        tally.weighted_distance += face.quality * nearest.distance
        tally.threshold = min(tally.threshold, nearest.threshold)
    if not tallies:
        return TrackDecision(identity_id=None, confidence=0.0, faces=voters)
    winner_id, winner = min(
        tallies.items(),
        key=lambda item: (-round(item[1].weight, _WEIGHT_DIGITS), item[1].mean_distance, item[0]),
    )
    distance = winner.mean_distance
    share = winner.weight / total
    recognised = distance < winner.threshold and round(share, _WEIGHT_DIGITS) >= min_vote_share
    margin = (
        min(1.0, max(0.0, (winner.threshold - distance) / winner.threshold)) if winner.threshold > 0 else 0.0
    )
    decision = TrackDecision(
        identity_id=winner_id if recognised else None,
        confidence=share * margin if recognised else 0.0,
        faces=voters,
        nearest_id=winner_id,
        distance=distance,
        threshold=winner.threshold,
        vote_share=share,
    )
    logger.debug("track vote: %s", decision)
    return decision
