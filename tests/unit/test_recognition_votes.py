"""Per-track face keeping and the quality-weighted vote, table-driven with a table matcher (no index).

Each test face carries a tag in its embedding's first component; the matcher maps tags to candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from pydantic import ValidationError

from pipelines.recognition.votes import (
    BestFaces,
    Candidate,
    FaceMatcher,
    FaceVoteConfig,
    TrackFace,
    decide_track,
)

THRESHOLD = 0.6


def face(quality: float, tag: int) -> TrackFace:
    embedding = np.zeros(128, np.float32)
    embedding[0] = tag
    return TrackFace(quality=quality, embedding=embedding)


def table_matcher(table: dict[int, list[tuple[str, float]]]) -> FaceMatcher:
    def match(embedding: np.ndarray) -> Sequence[Candidate]:
        return [Candidate(identity, distance, THRESHOLD) for identity, distance in table[int(embedding[0])]]

    return match


@dataclass(frozen=True)
class Case:
    faces: list[tuple[float, list[tuple[str, float]]]]  # (quality, candidates of that face)
    identity: str | None
    nearest: str | None = None


CASES: dict[str, Case] = {
    "one good face beats several poor ones": Case(
        [(0.9, [("alice", 0.35)]), (0.2, [("bob", 0.5)]), (0.2, [("bob", 0.45)]), (0.2, [("bob", 0.5)])],
        "alice",
    ),
    "several poor faces together outweigh one mediocre": Case(
        [(0.3, [("alice", 0.4)]), (0.25, [("bob", 0.4)]), (0.25, [("bob", 0.4)])], "bob"
    ),
    "each face votes for its nearest candidate": Case(
        [(0.8, [("bob", 0.55), ("alice", 0.3)]), (0.5, [("alice", 0.4), ("bob", 0.5)])], "alice"
    ),
    "tie in weight goes to the lower mean distance": Case(
        [(0.5, [("bob", 0.5)]), (0.5, [("alice", 0.3)])], "alice"
    ),
    "tie in weight from float sums (0.1 + 0.2 vs 0.3)": Case(
        [(0.1, [("bob", 0.5)]), (0.2, [("bob", 0.5)]), (0.3, [("alice", 0.4)])], "alice"
    ),
    "full tie goes to the smaller identity id": Case(
        [(0.5, [("bob", 0.4)]), (0.5, [("alice", 0.4)])], "alice"
    ),
    "nothing under threshold is unknown": Case(
        [(0.9, [("alice", 0.7)]), (0.8, [("alice", 0.65)])], None, "alice"
    ),
    "winner's weighted mean over threshold is unknown": Case(
        [(0.9, [("alice", 0.75)]), (0.1, [("alice", 0.3)])], None, "alice"
    ),
    "winner without half the vote is unknown": Case(
        [(0.4, [("alice", 0.3)]), (0.35, [("bob", 0.3)]), (0.35, [("carol", 0.3)])], None, "alice"
    ),
    "faces without candidates count against the winner": Case(
        [(0.3, [("alice", 0.3)]), (0.9, [])], None, "alice"
    ),
    "no candidates at all is unknown": Case([(0.9, []), (0.5, [])], None),
    "zero-quality faces do not vote": Case(
        [(0.0, [("bob", 0.1)]), (0.0, [("bob", 0.1)]), (0.1, [("alice", 0.5)])], "alice"
    ),
    "no faces is unknown": Case([], None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_vote(name: str) -> None:
    case = CASES[name]
    faces = [face(quality, tag) for tag, (quality, _) in enumerate(case.faces)]
    matcher = table_matcher({tag: candidates for tag, (_, candidates) in enumerate(case.faces)})
    decision = decide_track(faces, matcher, min_vote_share=0.5)
    assert decision.identity_id == case.identity
    assert decision.known == (case.identity is not None)
    if case.identity is not None:
        assert decision.nearest_id == case.identity
        assert 0.0 < decision.confidence <= 1.0
        assert decision.distance is not None and decision.distance < THRESHOLD
    else:
        assert decision.confidence == 0.0
        assert decision.nearest_id == case.nearest


def test_confidence_is_share_times_margin() -> None:
    faces = [face(0.6, 0), face(0.2, 1)]
    matcher = table_matcher({0: [("alice", 0.3)], 1: [("bob", 0.2)]})
    decision = decide_track(faces, matcher)
    assert decision.identity_id == "alice"
    assert decision.vote_share == pytest.approx(0.75)
    assert decision.confidence == pytest.approx(0.75 * (0.6 - 0.3) / 0.6)
    assert decision.faces == 2


def test_per_list_thresholds_apply() -> None:
    def match(embedding: np.ndarray) -> Sequence[Candidate]:
        return [Candidate("vip", 0.45, 0.4)]

    decision = decide_track([face(0.9, 0)], match)
    assert decision.identity_id is None and decision.nearest_id == "vip" and decision.threshold == 0.4


@pytest.mark.parametrize(
    ("qualities", "keep", "kept"),
    [
        ([0.2, 0.9, 0.5, 0.1, 0.7], 3, [0.9, 0.7, 0.5]),
        ([0.2, 0.3], 5, [0.3, 0.2]),
        ([0.5, 0.5, 0.5], 2, [0.5, 0.5]),
        ([0.1, 0.2, 0.3, 0.4], 1, [0.4]),
    ],
)
def test_best_faces_keeps_the_top_k(qualities: list[float], keep: int, kept: list[float]) -> None:
    best: BestFaces[TrackFace] = BestFaces(keep)
    for tag, quality in enumerate(qualities):
        best.offer(face(quality, tag))
    assert [f.quality for f in best.faces] == kept
    assert len(best) == len(kept)


def test_best_faces_ties_keep_the_earlier_face_and_say_what_they_keep() -> None:
    best: BestFaces[TrackFace] = BestFaces(2)
    assert best.offer(face(0.5, 0)) and best.offer(face(0.5, 1))
    assert not best.would_keep(0.5) and not best.offer(face(0.5, 2))
    assert best.would_keep(0.6) and best.offer(face(0.6, 3))
    assert [int(f.embedding[0]) for f in best.faces] == [3, 0]


def test_config_bounds() -> None:
    assert FaceVoteConfig().keep_faces == 5
    with pytest.raises(ValidationError):
        FaceVoteConfig(keep_faces=0)
    with pytest.raises(ValueError, match="keep"):
        BestFaces[TrackFace](0)
