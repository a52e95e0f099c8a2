"""The ByteTrack wrapper on synthetic detections: ids persist, start and end when they should."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from pipelines.config import TrackerConfig
from pipelines.tracking import Tracker

Box = tuple[float, float, float, float]


def dets(boxes: list[Box], conf: float | list[float] = 0.9, labels: list[str] | None = None) -> sv.Detections:
    xyxy = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    confidence = np.broadcast_to(np.asarray(conf, dtype=np.float32), (len(xyxy),)).copy()
    names = labels if labels is not None else ["person"] * len(xyxy)
    return sv.Detections(
        xyxy=xyxy,
        confidence=confidence,
        class_id=np.zeros(len(xyxy), dtype=int),
        data={"label": np.array(names, dtype=np.str_)},
    )


def walker(i: int, x0: float = 100, y0: float = 100, vx: float = 6, vy: float = 0) -> Box:
    """A 40 x 90 px person moving (vx, vy) px per frame."""
    x, y = x0 + vx * i, y0 + vy * i
    return (x, y, x + 40, y + 90)


def ids(d: sv.Detections) -> list[int]:
    assert d.tracker_id is not None
    return [int(i) for i in d.tracker_id]


def labels(d: sv.Detections) -> list[str]:
    label = d.data["label"]
    assert isinstance(label, np.ndarray)
    return [str(x) for x in label]


def run(tracker: Tracker, frames: list[sv.Detections]) -> list[sv.Detections]:
    return [tracker.update(d) for d in frames]


@pytest.mark.parametrize(("min_frames", "first_tracked"), [(1, 1), (2, 1), (3, 2), (4, 3)])
def test_a_moving_box_keeps_one_id(min_frames: int, first_tracked: int) -> None:
    tracker = Tracker(TrackerConfig(minimum_consecutive_frames=min_frames), fps=10)
    out = run(tracker, [dets([walker(i)]) for i in range(15)])
    assert [len(o) for o in out[:first_tracked]] == [0] * first_tracked
    tracked_ids = [ids(o) for o in out[first_tracked:]]
    assert tracked_ids == [[1]] * (15 - first_tracked)
    last = out[-1]
    np.testing.assert_allclose(last.xyxy[0], walker(14))  # the detection's own box, not the prediction
    assert labels(last) == ["person"]


def test_two_people_crossing_keep_their_ids() -> None:
    tracker = Tracker(TrackerConfig(), fps=10)
    frames = [dets([walker(i, x0=100, vx=8), walker(i, x0=400, y0=110, vx=-8)]) for i in range(30)]
    out = run(tracker, frames)
    by_id: dict[int, list[float]] = {}
    for o in out:
        for tid, box in zip(ids(o), o.xyxy, strict=True):
            by_id.setdefault(tid, []).append(float(box[0]))
    assert sorted(by_id) == [1, 2]
    # each id moves one way only: they never swapped
    directions = sorted(np.sign(np.diff(xs)).mean() for xs in by_id.values())
    assert directions == [-1.0, 1.0]


@pytest.mark.parametrize(
    ("gap_frames", "buffer_frames", "same_id"),
    [(2, 10, True), (8, 10, True), (12, 10, False), (4, 3, False)],
)
def test_a_lost_track_is_kept_for_the_buffer(gap_frames: int, buffer_frames: int, same_id: bool) -> None:
    tracker = Tracker(TrackerConfig(lost_track_buffer=buffer_frames), fps=10)
    still = (200.0, 200.0, 240.0, 290.0)
    before = run(tracker, [dets([still]) for _ in range(5)])
    run(tracker, [dets([]) for _ in range(gap_frames)])
    after = run(tracker, [dets([still]) for _ in range(3)])
    first_id = ids(before[-1])
    later_ids = [i for o in after for i in ids(o)]
    assert first_id == [1]
    if same_id:
        assert later_ids == [1, 1, 1]
    else:
        assert 1 not in later_ids and later_ids  # a new track, a new id


def test_the_buffer_counts_fed_frames_whatever_the_fps() -> None:
    """lost_track_buffer is in frames fed to the tracker, at 2 fps as at 30 fps."""
    for fps in (2.0, 30.0):
        tracker = Tracker(TrackerConfig(lost_track_buffer=6), fps=fps)
        still = (10.0, 10.0, 50.0, 100.0)
        run(tracker, [dets([still]) for _ in range(4)])
        run(tracker, [dets([]) for _ in range(5)])
        assert ids(tracker.update(dets([still]))) == [1], fps


def test_low_confidence_boxes_do_not_start_tracks_but_continue_them() -> None:
    config = TrackerConfig(high_conf_det_threshold=0.4)
    weak_only = Tracker(config, fps=10)
    assert all(len(o) == 0 for o in run(weak_only, [dets([walker(i)], conf=0.3) for i in range(10)]))
    tracker = Tracker(config, fps=10)
    run(tracker, [dets([walker(i)], conf=0.8) for i in range(4)])
    weak = run(tracker, [dets([walker(i)], conf=0.2) for i in range(4, 8)])
    assert [ids(o) for o in weak] == [[1]] * 4


def test_labels_follow_their_boxes() -> None:
    tracker = Tracker(TrackerConfig(), fps=10)
    frames = [dets([walker(i, x0=50), walker(i, x0=300)], labels=["person", "person_down"]) for i in range(5)]
    out = run(tracker, frames)[-1]
    label_by_x = {float(b[0]): lab for b, lab in zip(out.xyxy, labels(out), strict=True)}
    assert label_by_x == {walker(4, x0=50)[0]: "person", walker(4, x0=300)[0]: "person_down"}


def test_deterministic() -> None:
    rng = np.random.default_rng(11)
    frames = []
    for i in range(40):
        boxes = [walker(i, x0=40 + 90 * k, y0=50 + 20 * k, vx=3 * (k - 2)) for k in range(5)]
        jitter = rng.normal(0, 1.5, size=(5, 4))
        keep = rng.uniform(size=5) > 0.1
        frames.append(dets([tuple(b) for b in (np.array(boxes) + jitter)[keep]], conf=0.7))
    a = [ids(o) for o in run(Tracker(TrackerConfig(), fps=10), frames)]
    b = [ids(o) for o in run(Tracker(TrackerConfig(), fps=10), frames)]
    assert a == b
    assert len({i for ids in a for i in ids}) >= 5


def test_empty_frames_give_empty_tracked_detections() -> None:
    tracker = Tracker(TrackerConfig(), fps=10)
    out = tracker.update(dets([]))
    assert len(out) == 0 and out.tracker_id is not None and out.tracker_id.shape == (0,)
    assert labels(out) == [] and isinstance(out.data["label"], np.ndarray)


def test_timestamps_are_accepted_and_reset_forgets() -> None:
    tracker = Tracker(TrackerConfig(), fps=10)
    out = [tracker.update(dets([walker(i)]), pts_ms=100 * i) for i in range(5)]
    assert ids(out[-1]) == [1]
    tracker.reset()
    again = [tracker.update(dets([walker(i)]), pts_ms=100 * i) for i in range(3)]
    assert ids(again[-1]) == [1]  # ids restart after a reset


@pytest.mark.parametrize("fps", [0.0, -5.0, float("nan"), float("inf")])
def test_bad_fps_is_refused(fps: float) -> None:
    with pytest.raises(ValueError, match="fps"):
        Tracker(TrackerConfig(), fps=fps)
