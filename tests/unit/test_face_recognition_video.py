"""Face recognition end to end on composited video: real people detector, tracker, recognition stage,
face rules, events and blurred evidence (messi5.jpg enrolled; the astronaut is nobody's)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from detectors.base import Detector, FrameBGR, box_iou
from events.faces import FaceNegative, IdentityChange, NegativeChange, Watchlist, WatchlistChange
from pipelines.analytics.face_match import FaceMatchConfig
from pipelines.analytics.face_unknown import FaceUnknownConfig
from pipelines.analytics.spec import RuleBase
from pipelines.config import SnapshotConfig
from pipelines.evidence import SnapshotWriter
from pipelines.recognition.faces import FaceRuntime
from pipelines.recognition.gallery import FaceGallery
from pipelines.worker import CameraWorker
from tests.face_video import FPS, Walker, astronaut, composite, face_crop, find_walker, load, messi
from tests.unit.detector_assets import ONNX_MODEL, people_detector_int8, require_model
from tests.unit.publishers import Collect
from tests.unit.recognition_helpers import camera_worker

FRAMES = 40
LABELS = ["person", "person_down"]
MATCH = FaceMatchConfig(id="wanted", type="face_match", labels=LABELS)
UNKNOWN = FaceUnknownConfig(id="unknown", type="face_unknown", labels=LABELS, min_seen_s=1.0, min_faces=2)


@pytest.fixture(scope="module")
def detector() -> Detector:
    require_model(ONNX_MODEL)
    return people_detector_int8()


@pytest.fixture(scope="module")
def walker(detector: Detector) -> Walker:
    return find_walker(detector, FRAMES)


@pytest.fixture(scope="module")
def shared_runtime() -> FaceRuntime:
    return FaceRuntime(FaceGallery())


@pytest.fixture(scope="module")
def messi_vector(shared_runtime: FaceRuntime) -> list[float]:
    model = shared_runtime.model()
    image = messi()
    return [float(v) for v in model.encode(image, model.detect(image))[0]]


def enrolled_runtime(shared: FaceRuntime, messi_vector: list[float]) -> FaceRuntime:
    """A fresh gallery with messi on a 'wanted' list, sharing the loaded model."""
    runtime = FaceRuntime(FaceGallery(), shared.config, shared_with=shared)
    wl = Watchlist(
        watchlist_id="wl_wanted", name="wanted", purpose="test watchlist", created_ts_ms=0, updated_ts_ms=0
    )
    runtime.gallery.apply(WatchlistChange(watchlist_id=wl.watchlist_id, watchlist=wl))
    runtime.gallery.apply(
        IdentityChange(
            identity_id="id_messi", watchlist_id=wl.watchlist_id, name="Messi", vectors=[messi_vector]
        )
    )
    return runtime


@dataclass
class Scene:
    """Camera "cam" watching the walker with the detector, recognising faces with `runtime` (messi
    enrolled), evidence written under `data_dir`."""

    runtime: FaceRuntime
    detector: Detector
    walker: Walker
    data_dir: Path

    def frames(self, face: FrameBGR, seed: int) -> list[FrameBGR]:
        """The walker's frames with `face` on the head."""
        return composite(self.walker, face_crop(face, self.runtime.model()), seed=seed)

    def worker(self, rules: list[RuleBase], out: Collect) -> CameraWorker:
        snapshots = SnapshotWriter(self.data_dir, SnapshotConfig(), face_finder=self.runtime.find_faces)
        return camera_worker("cam", rules, out, {"face": self.runtime.recognizer}, snapshots)

    def run(self, worker: CameraWorker, frames: list[FrameBGR], start: int = 0) -> None:
        for i, frame in enumerate(frames, start=start):
            ts_ms = int(i * 1000 / FPS)
            worker.analyse(frame, self.detector.detect(frame), 1_700_000_000_000 + ts_ms, ts_ms)

    def watch(self, rules: list[RuleBase], frames: list[FrameBGR]) -> Collect:
        """The events of a new worker running `rules` on the frames."""
        out = Collect()
        self.run(self.worker(rules, out), frames)
        return out


@pytest.fixture
def scene(
    detector: Detector, walker: Walker, shared_runtime: FaceRuntime, messi_vector: list[float], tmp_path: Path
) -> Scene:
    return Scene(enrolled_runtime(shared_runtime, messi_vector), detector, walker, tmp_path)


def test_enrolled_face_on_a_walking_track_matches_once_and_only_it_is_unblurred(scene: Scene) -> None:
    out = scene.watch([MATCH, UNKNOWN], scene.frames(messi(), seed=1))
    matches = out.of_type("face_match")
    assert len(matches) == 1, [e.attributes for e in matches]
    event = matches[0]
    attrs = event.attributes.model_dump()
    assert attrs["identity_id"] == "id_messi" and attrs["watchlist_id"] == "wl_wanted"
    assert 0 < attrs["distance"] < attrs["threshold"] and attrs["faces"] >= MATCH.min_faces
    assert event.severity == "high" and event.track_id is not None
    # the face is on the walker: its box lies in the walker's box of some frame
    fx = (attrs["face_xyxy"][0] + attrs["face_xyxy"][2]) / 2
    assert any(b[0] <= fx <= b[2] for b in scene.walker.boxes.values())
    assert not [e for e in out.of_type("face_unknown") if e.track_id == event.track_id]
    assert event.snapshot is not None
    snapshot = load(scene.data_dir / event.snapshot.uri)
    reveal = attrs["face_xyxy"]
    for box in scene.runtime.find_faces(snapshot):
        assert box_iou(box, reveal) >= 0.3, f"an unblurred face other than the matched one: {box}"


def test_a_face_on_no_list_never_matches_and_is_reported_unknown_once(scene: Scene) -> None:
    out = scene.watch([MATCH, UNKNOWN], scene.frames(astronaut(), seed=2))
    assert out.of_type("face_match") == []
    unknown = out.of_type("face_unknown")
    assert len(unknown) == 1 and len({e.track_id for e in unknown}) == 1
    assert unknown[0].attributes.model_dump()["seen_s"] >= UNKNOWN.min_seen_s
    assert "face_embedding" not in unknown[0].attributes.model_dump()  # bystanders' encodings are not kept


def test_not_this_person_stops_the_track_and_near_identical_faces_but_not_the_true_person(
    scene: Scene, messi_vector: list[float]
) -> None:
    frames = scene.frames(messi(), seed=3)
    out = Collect()
    unknown_at_once = FaceUnknownConfig(
        id="unknown", type="face_unknown", labels=LABELS, min_seen_s=0, min_faces=1
    )
    worker = scene.worker([MATCH, unknown_at_once], out)
    half = FRAMES * 3 // 4
    scene.run(worker, frames[:half])
    [match] = out.of_type("face_match")
    assert match.track_id is not None
    attrs = match.attributes.model_dump()
    scene.runtime.gallery.apply(
        NegativeChange(
            negative=FaceNegative(
                negative_id="neg1",
                identity_id="id_messi",
                watchlist_id="wl_wanted",
                vector=attrs["face_embedding"],
                camera_id="cam",
                track_id=match.track_id,
                event_id=str(match.event_id),
                created_ts_ms=0,
            )
        )
    )
    out.events.clear()
    scene.run(worker, frames[half:], start=half)
    assert out.of_type("face_match") == []
    assert [e.track_id for e in out.of_type("face_unknown")] == [match.track_id]  # the track: unknown now
    # the same faces again, on a new worker (new tracks): within the negative's radius, no match
    assert scene.watch([MATCH], frames).of_type("face_match") == []
    # the true person (the enrolment photo) still matches
    [nearest] = scene.runtime.gallery.candidates(np.asarray(messi_vector, np.float32), k=1)
    assert nearest.identity_id == "id_messi" and nearest.distance < 0.01
