"""Face recognition on tracked people: faces on the head of each person's box, the best kept per track,
one quality-weighted vote per track against the gallery (`votes.decide_track`), not per frame.

Cost control: a track is looked at no more often than `look_every_ms` (`settled_look_every_ms` once it
holds its `keep_faces` best faces), at most `max_looks_per_frame` tracks per frame (those with the fewest
faces first), and a face is encoded only when it would be among the track's best. Bystanders'
encodings live only in the track's memory and go with the track.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detectors.base import FrameBGR, box_iou
from detectors.faces import FaceBox, FaceModel, FaceModelConfig
from events.faces import Watchlist
from pipelines.recognition.face_index import FaceIndexConfig
from pipelines.recognition.gallery import FaceGallery, GalleryIdentity
from pipelines.recognition.looks import watched_and_due
from pipelines.recognition.stage import StageFrame
from pipelines.recognition.votes import F32, BestFaces, FaceVoteConfig, TrackDecision, TrackFace, decide_track

logger = logging.getLogger(__name__)

XYXY = tuple[int, int, int, int]
Box = tuple[float, float, float, float]  # a person's box, pixels


class FaceRecognitionConfig(BaseModel):
    """Face recognition settings (env `ANFANG_FACES__*`)."""

    model_config = ConfigDict(extra="forbid")

    model: FaceModelConfig = Field(default_factory=FaceModelConfig)
    vote: FaceVoteConfig = Field(default_factory=FaceVoteConfig)
    index: FaceIndexConfig = Field(default_factory=FaceIndexConfig, description="the 1:N index")
    look_every_ms: int = Field(default=200, ge=0, description="least time between two looks at one track")
    settled_look_every_ms: int = Field(
        default=1000,
        ge=0,
        description="the same once a track holds `vote.keep_faces` faces (a new one only replaces a worse)",
    )
    max_looks_per_frame: int = Field(default=4, ge=1, description="tracks searched for a face per frame")
    head_fraction: float = Field(
        default=0.45, gt=0.0, le=1.0, description="upper share of a person's box searched for the face"
    )
    min_person_height_px: int = Field(default=60, ge=1, description="shorter people are not looked at")
    min_crop_px: int = Field(default=160, ge=32, description="head crops narrower are upscaled to this")
    candidates: int = Field(default=5, ge=1, le=50, description="identities fetched per face")
    forget_after_ms: int = Field(default=10_000, ge=0, description="a track unseen this long is forgotten")


@dataclass(frozen=True, slots=True)
class FaceTrackResult:
    """A tracked person whose face was seen on this frame, and the track's decision so far."""

    track_id: int
    label: str
    person_xyxy: tuple[float, float, float, float]
    face_xyxy: XYXY
    decision: TrackDecision
    first_face_ts_ms: int
    faces: int
    embedding: F32 = field(repr=False)  # the track's best face (the one a "not this person" blocks)
    identity: GalleryIdentity | None = None  # the decided identity, as the gallery holds it
    watchlist: Watchlist | None = None  # its list


@dataclass(frozen=True, slots=True)
class _Found:
    crop: FrameBGR = field(repr=False)
    box: FaceBox  # in the crop
    face_xyxy: XYXY  # in the frame


@dataclass(slots=True)
class _Track:
    best: BestFaces[TrackFace]
    last_seen_ms: int
    last_look_ms: int | None = None
    first_face_ms: int | None = None
    decision: TrackDecision | None = None
    decided_version: int = -1


class FaceRecognizer:
    """One camera's face recogniser; the model and gallery are shared by the process's cameras."""

    name = "face"

    def __init__(
        self,
        camera_id: str,
        labels: Sequence[str],
        model: FaceModel,
        model_lock: threading.Lock,
        gallery: FaceGallery,
        config: FaceRecognitionConfig,
    ) -> None:
        self.camera_id = camera_id
        self._labels = set(labels)
        self._model, self._model_lock = model, model_lock
        self._gallery = gallery
        self._config = config
        self._tracks: dict[int, _Track] = {}
        self._boxes_ts_ms: int | None = None
        self._boxes: list[XYXY] = []

    def observe(self, frame: StageFrame) -> list[FaceTrackResult]:
        self._boxes_ts_ms, self._boxes = frame.ts_ms, []
        watched, due = watched_and_due(
            frame.tracked,
            labels=self._labels,
            min_height_px=self._config.min_person_height_px,
            default_label="person",
            tracks=self._tracks,
            new_state=lambda: _Track(BestFaces(self._config.vote.keep_faces), frame.ts_ms),
            now_ms=frame.ts_ms,
            every_ms=self._look_every_ms,
            results=lambda track: len(track.best),
        )
        people = [w.xyxy for w in watched]
        found = [
            (w.track_id, w.label, w.xyxy, face)
            for w in due[: self._config.max_looks_per_frame]
            if (face := self._find(frame, w.track_id, w.xyxy, people)) is not None
        ]
        results = [
            r
            for tid, label, xyxy, face in _one_owner_per_face(found)
            if (r := self._learn(frame, tid, label, xyxy, face)) is not None
        ]
        self._forget(frame.ts_ms)
        return results

    def _look_every_ms(self, track: _Track) -> int:
        settled = len(track.best) >= self._config.vote.keep_faces
        return self._config.settled_look_every_ms if settled else self._config.look_every_ms

    def faces_in(self, frame: StageFrame) -> list[XYXY]:
        return list(self._boxes) if self._boxes_ts_ms == frame.ts_ms else []

    def _find(self, frame: StageFrame, tid: int, person: Box, people: list[Box]) -> _Found | None:
        """The largest face on the person's head: its centre inside the person's box, and no other
        person's box centred nearer to it (a neighbour's face in the crop is not this person's)."""
        self._tracks[tid].last_look_ms = frame.ts_ms
        crop, origin, scale = self._head_crop(frame.image_bgr, person)
        if crop is None:
            return None
        with self._model_lock:
            boxes = self._model.detect(crop)
        inside = [b for b in boxes if _owner(_to_frame(b, origin, scale), people) == person]
        if not inside:
            return None
        box = max(inside, key=lambda b: b.size_px)
        face_xyxy = _to_frame(box, origin, scale)
        self._boxes.append(face_xyxy)
        return _Found(crop, box, face_xyxy)

    def _learn(
        self, frame: StageFrame, tid: int, label: str, person: tuple[float, float, float, float], face: _Found
    ) -> FaceTrackResult | None:
        track = self._tracks[tid]
        with self._model_lock:
            quality = self._model.quality(
                face.crop, face.box, self._model.landmarks(face.crop, face.box)
            ).combined
            keep = track.best.would_keep(quality)
            embedding = self._model.encode(face.crop, [face.box])[0] if keep else None
        face_xyxy = face.face_xyxy
        if track.first_face_ms is None:
            track.first_face_ms = frame.ts_ms
        changed = False
        if embedding is not None:
            changed = track.best.offer(TrackFace(quality, embedding, frame.ts_ms / 1000, face_xyxy))
        version = self._gallery.version
        if changed or track.decision is None or track.decided_version != version:
            blocked = self._gallery.blocked_for(self.camera_id, tid)
            track.decision = decide_track(
                track.best.faces,
                lambda e: self._gallery.candidates(e, k=self._config.candidates, blocked=blocked),
                self._config.vote.min_vote_share,
            )
            track.decided_version = version
        if not len(track.best):
            return None
        identity = self._gallery.identity(track.decision.identity_id) if track.decision.identity_id else None
        return FaceTrackResult(
            track_id=tid,
            label=label,
            person_xyxy=person,
            face_xyxy=face_xyxy,
            decision=track.decision,
            first_face_ts_ms=track.first_face_ms,
            faces=len(track.best),
            embedding=track.best.faces[0].embedding,
            identity=identity,
            watchlist=self._gallery.watchlist(identity.watchlist_id) if identity is not None else None,
        )

    def _head_crop(
        self, image: FrameBGR, person: tuple[float, float, float, float]
    ) -> tuple[FrameBGR | None, tuple[int, int], float]:
        h, w = image.shape[:2]
        x1, y1, x2, y2 = person
        pad = 0.15 * (x2 - x1)
        cx1, cy1 = max(0, int(x1 - pad)), max(0, int(y1 - pad))
        cx2 = min(w, int(x2 + pad))
        cy2 = min(h, int(y1 + self._config.head_fraction * (y2 - y1) + pad))
        if cx2 - cx1 < 8 or cy2 - cy1 < 8:
            return None, (0, 0), 1.0
        crop: FrameBGR = np.ascontiguousarray(image[cy1:cy2, cx1:cx2])
        scale = max(1.0, self._config.min_crop_px / (cx2 - cx1))
        if scale > 1.0:
            crop = np.asarray(
                cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR), np.uint8
            )
        return crop, (cx1, cy1), scale

    def _forget(self, now_ms: int) -> None:
        horizon = self._config.forget_after_ms
        gone = [tid for tid, t in self._tracks.items() if now_ms - t.last_seen_ms > horizon]
        for tid in gone:
            del self._tracks[tid]  # its faces and encodings go with it


def _centre_inside(face: XYXY, person: Box) -> bool:
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    return person[0] <= cx <= person[2] and person[1] - (face[3] - face[1]) <= cy <= person[3]


def _owner(face: XYXY, people: list[Box]) -> Box | None:
    """The person a face belongs to: of those whose box holds its centre, the one centred nearest."""
    holders = [p for p in people if _centre_inside(face, p)]
    if not holders:
        return None
    cx = (face[0] + face[2]) / 2
    return min(holders, key=lambda p: abs(cx - (p[0] + p[2]) / 2) / max(1.0, p[2] - p[0]))


_FoundFor = tuple[int, str, tuple[float, float, float, float], _Found]


def _one_owner_per_face(found: list[_FoundFor]) -> list[_FoundFor]:
    """When overlapping people's head crops find the same face, it is the face of the person whose box is
    centred nearest to it (relative to box width): one face never votes for two tracks."""
    kept: list[_FoundFor] = []
    for item in sorted(found, key=_off_centre):
        if all(box_iou(item[3].face_xyxy, other[3].face_xyxy) < 0.3 for other in kept):
            kept.append(item)
    return kept


def _off_centre(item: _FoundFor) -> float:
    person, face = item[2], item[3].face_xyxy
    width = max(1.0, person[2] - person[0])
    return abs((face[0] + face[2]) / 2 - (person[0] + person[2]) / 2) / width


def _to_frame(box: FaceBox, origin: tuple[int, int], scale: float) -> XYXY:
    x1, y1, x2, y2 = box.xyxy
    ox, oy = origin
    return (
        ox + int(x1 / scale),
        oy + int(y1 / scale),
        ox + round(x2 / scale),
        oy + round(y2 / scale),
    )


class FaceRuntime:
    """A process's face model (loaded on first use, shared under one lock), its gallery and settings:
    builds each camera's recogniser and finds faces on whole frames for the privacy blur."""

    def __init__(
        self,
        gallery: FaceGallery,
        config: FaceRecognitionConfig | None = None,
        *,
        shared_with: FaceRuntime | None = None,
    ) -> None:
        """`shared_with`: another runtime whose model (and its lock) this one uses (one load)."""
        self.gallery = gallery
        self.config = config or FaceRecognitionConfig()
        self.lock: threading.Lock = shared_with.lock if shared_with is not None else threading.Lock()
        self._model: FaceModel | None = shared_with.model() if shared_with is not None else None

    def model(self) -> FaceModel:
        with self.lock:
            if self._model is None:
                self._model = FaceModel(self.config.model)
            return self._model

    def recognizer(self, camera_id: str, rules: Sequence[object]) -> FaceRecognizer:
        """`RecognizerFactory` for faces: watches the labels of the rules that read faces."""
        labels = sorted({str(label) for rule in rules for label in getattr(rule, "labels", ["person"])})
        return FaceRecognizer(camera_id, labels, self.model(), self.lock, self.gallery, self.config)

    def find_faces(self, image_bgr: FrameBGR) -> list[XYXY]:
        """Every face the detector finds on the frame (`pipelines.evidence.FaceFinder`)."""
        model = self.model()
        with self.lock:
            return [b.xyxy for b in model.detect(image_bgr)]
