"""Privacy of stored evidence: faces blurred except the revealed one, people by policy, originals kept
only where the camera's policy says so."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import FrameBGR
from pipelines.config import PrivacyConfig, SnapshotConfig
from pipelines.evidence import SnapshotWriter
from pipelines.recognition.faces import FaceRuntime
from pipelines.recognition.gallery import FaceGallery
from tests.face_video import astronaut, face_crop, load, messi


@pytest.fixture(scope="module")
def runtime() -> FaceRuntime:
    return FaceRuntime(FaceGallery())


@pytest.fixture(scope="module")
def two_faces(runtime: FaceRuntime) -> tuple[FrameBGR, list[tuple[int, int, int, int]]]:
    """messi5 doubled in size with the astronaut's face pasted on its left: two faces a detector finds."""
    frame = np.asarray(cv2.resize(messi(), None, fx=2.0, fy=2.0), np.uint8)
    other = cv2.resize(face_crop(astronaut(), runtime.model()), (120, 120))
    frame[300:420, 40:160] = other
    found = runtime.find_faces(frame)
    assert len(found) == 2, found
    return np.ascontiguousarray(frame), sorted(found)


def write(
    runtime: FaceRuntime,
    tmp_path: Path,
    frame: FrameBGR,
    privacy: PrivacyConfig,
    reveal: tuple[int, int, int, int] | None,
) -> tuple[str, uuid.UUID]:
    writer = SnapshotWriter(tmp_path, SnapshotConfig(max_width_px=2000), face_finder=runtime.find_faces)
    event_id = uuid.uuid4()
    snap = writer.write(
        frame,
        camera_id="cam",
        event_id=event_id,
        ts_ms=1_700_000_000_000,
        xyxy=(0, 0, 10, 10),
        caption="t",
        privacy=privacy,
        reveal_xyxy=reveal,
    )
    return snap.uri, event_id


@pytest.mark.parametrize("reveal_index", [None, 0, 1])
def test_every_face_but_the_revealed_one_is_blurred(
    runtime: FaceRuntime,
    two_faces: tuple[FrameBGR, list[tuple[int, int, int, int]]],
    tmp_path: Path,
    reveal_index: int | None,
) -> None:
    frame, faces = two_faces
    reveal = None if reveal_index is None else faces[reveal_index]
    uri, _ = write(runtime, tmp_path, frame, PrivacyConfig(), reveal)
    left = runtime.find_faces(load(tmp_path / uri))
    assert len(left) == (0 if reveal is None else 1)
    if reveal is not None:
        assert max(abs(a - b) for a, b in zip(left[0], reveal, strict=True)) < 12
    assert not (tmp_path / "originals").exists()  # kept only by policy


def test_original_is_kept_only_by_policy_and_stays_unblurred(
    runtime: FaceRuntime, two_faces: tuple[FrameBGR, list[tuple[int, int, int, int]]], tmp_path: Path
) -> None:
    frame, _ = two_faces
    writer = SnapshotWriter(tmp_path, SnapshotConfig(max_width_px=2000), face_finder=runtime.find_faces)
    snap = writer.write(
        frame,
        camera_id="cam",
        event_id=uuid.uuid4(),
        ts_ms=1_700_000_000_000,
        xyxy=(0, 0, 10, 10),
        caption="t",
        privacy=PrivacyConfig(keep_original=True),
    )
    original = tmp_path / snap.uri.replace("snapshots/", "originals/", 1)
    assert original.is_file()
    assert len(runtime.find_faces(load(original))) == 2
    assert runtime.find_faces(load(tmp_path / snap.uri)) == []
    # both files' SHA-256 go into the event: an auditor can tell a swapped original
    assert snap.sha256 == hashlib.sha256((tmp_path / snap.uri).read_bytes()).hexdigest()
    assert snap.original_sha256 == hashlib.sha256(original.read_bytes()).hexdigest()
    assert snap.original_sha256 != snap.sha256


def test_blur_persons_blurs_whole_people_except_the_revealed_one(
    runtime: FaceRuntime, two_faces: tuple[FrameBGR, list[tuple[int, int, int, int]]], tmp_path: Path
) -> None:
    frame, faces = two_faces
    writer = SnapshotWriter(tmp_path, SnapshotConfig(), face_finder=runtime.find_faces)
    person = (0.0, 250.0, 200.0, 500.0)  # around the pasted face
    blurred = writer.blurred(
        frame, PrivacyConfig(blur_faces=False, blur_persons=True), faces[1], person_boxes=[person]
    )
    region = (slice(260, 490), slice(10, 190))
    assert (
        cv2.Laplacian(blurred[region], cv2.CV_64F).var()
        < 0.2 * cv2.Laplacian(frame[region], cv2.CV_64F).var()
    )
    assert np.array_equal(
        blurred[faces[1][1] : faces[1][3], faces[1][0] : faces[1][2]],
        frame[faces[1][1] : faces[1][3], faces[1][0] : faces[1][2]],
    )


def test_no_policy_blurs_nothing(
    runtime: FaceRuntime, two_faces: tuple[FrameBGR, list[tuple[int, int, int, int]]], tmp_path: Path
) -> None:
    frame, _ = two_faces
    uri, _ = write(runtime, tmp_path, frame, PrivacyConfig(blur_faces=False), None)
    assert len(runtime.find_faces(load(tmp_path / uri))) == 2


def test_faces_are_searched_once_per_frame_not_once_per_event(
    runtime: FaceRuntime, two_faces: tuple[FrameBGR, list[tuple[int, int, int, int]]], tmp_path: Path
) -> None:
    frame, _ = two_faces
    calls: list[int] = []

    def finder(image: FrameBGR) -> list[tuple[int, int, int, int]]:
        calls.append(id(image))
        return runtime.find_faces(image)

    writer = SnapshotWriter(tmp_path, SnapshotConfig(max_width_px=2000), face_finder=finder)
    kwargs = {
        "camera_id": "cam",
        "ts_ms": 1,
        "xyxy": (0.0, 0.0, 1.0, 1.0),
        "caption": "c",
        "privacy": PrivacyConfig(),
    }
    uris = [writer.write(frame, event_id=uuid.uuid4(), **kwargs).uri for _ in range(3)]  # type: ignore[arg-type]
    assert len(calls) == 1
    assert all(runtime.find_faces(load(tmp_path / uri)) == [] for uri in uris)  # each blurred all the same
    writer.write(frame.copy(), event_id=uuid.uuid4(), **kwargs)  # type: ignore[arg-type]
    assert len(calls) == 2  # another frame (even with the same pixels) is searched again
