"""Cost of the face recognition stage on a person-dense scene, against the detector's, same run.

vtest.avi's first `--frames` frames (6-10 people a frame) with a face (messi5.jpg, augmented) pasted on
the head of every person the tracker follows, so the stage finds a face on every person it looks at.
Per frame: detector (ONNX INT8, as `make demo`), tracker, then `FaceRecognizer.observe` with the
settings' defaults (at most 4 people looked at a frame, each every 200 ms, every 1 s once it holds its
5 best faces) against a gallery of
`--identities` synthetic identities plus messi. Printed: detector ms/frame, stage ms/frame (p50, mean),
their ratio, faces detected and encoded, encodings per second of encode time, and the same stage with
every person looked at on every frame (the worst case).

    .venv/bin/python -m bench.recognition [--frames 60] [--identities 10000]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

from detectors.onnx_yolo import OnnxYoloDetector
from events.faces import IdentityChange, Watchlist, WatchlistChange
from pipelines.config import TrackerConfig
from pipelines.recognition.faces import FaceRecognitionConfig, FaceRecognizer, FaceRuntime
from pipelines.recognition.gallery import FaceGallery
from pipelines.recognition.stage import StageFrame
from pipelines.tracking import Tracker
from tests.face_video import FPS, Walker, composite, face_crop, find_walker, messi
from tests.unit.detector_assets import people_detector_int8

logger = logging.getLogger("bench.recognition")


def gallery_with(identities: int, messi_vector: list[float]) -> FaceGallery:
    gallery = FaceGallery()
    wl = Watchlist(watchlist_id="wl", name="wanted", purpose="benchmark", created_ts_ms=0, updated_ts_ms=0)
    gallery.apply(WatchlistChange(watchlist_id="wl", watchlist=wl))
    rng = np.random.default_rng(0)
    for i in range(identities):
        vector = rng.standard_normal(128).astype(np.float32)
        gallery.apply(
            IdentityChange(identity_id=f"id{i}", watchlist_id="wl", name=f"p{i}", vectors=[vector.tolist()])
        )
    gallery.apply(
        IdentityChange(identity_id="messi", watchlist_id="wl", name="Messi", vectors=[messi_vector])
    )
    return gallery


def every_person(
    walker: Walker, tracks: dict[int, dict[int, tuple[float, float, float, float]]]
) -> list[Walker]:
    return [Walker(walker.frames, boxes) for boxes in tracks.values() if len(boxes) >= 5]


def run(
    frames: list[np.ndarray], detector: OnnxYoloDetector, runtime: FaceRuntime, config: FaceRecognitionConfig
) -> tuple[list[float], list[float], int]:
    tracker = Tracker(TrackerConfig(), FPS)
    recognizer = FaceRecognizer(
        "bench", ["person", "person_down"], runtime.model(), runtime.lock, runtime.gallery, config
    )
    det_s, stage_s, found = [], [], 0
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        detections = detector.detect(frame)
        t1 = time.perf_counter()
        tracked = tracker.update(detections, int(i * 1000 / FPS))
        t2 = time.perf_counter()
        found += len(recognizer.observe(StageFrame("bench", int(i * 1000 / FPS), frame, tracked)))
        stage_s.append(time.perf_counter() - t2)
        det_s.append(t1 - t0)
    return det_s, stage_s, found


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--identities", type=int, default=10_000)
    args = p.parse_args()
    detector = people_detector_int8()
    probe = FaceRuntime(FaceGallery())
    model = probe.model()
    image = messi()
    vector = [float(v) for v in model.encode(image, model.detect(image))[0]]
    walker = find_walker(detector, args.frames, min_height_px=60)
    # paste the face on every tracked person: the tracks of the clean clip
    tracker = Tracker(TrackerConfig(), FPS)
    tracks: dict[int, dict[int, tuple[float, float, float, float]]] = {}
    for i, frame in enumerate(walker.frames):
        tracked = tracker.update(detector.detect(frame), int(i * 1000 / FPS))
        ids = tracked.tracker_id.tolist() if tracked.tracker_id is not None else []
        for tid, box in zip(ids, tracked.xyxy.tolist(), strict=True):
            tracks.setdefault(int(tid), {})[i] = (box[0], box[1], box[2], box[3])
    face = face_crop(image, model)
    frames = list(walker.frames)
    for n, person in enumerate(every_person(walker, tracks)):
        frames = composite(Walker(tuple(frames), person.boxes), face, seed=n, width_share=0.7)
    runtime = FaceRuntime(gallery_with(args.identities, vector), shared_with=probe)
    people = np.mean([len([1 for b in tracks.values() if i in b]) for i in range(len(frames))])
    logger.info(
        "%d frames, %.1f tracked people a frame, gallery %d identities",
        len(frames),
        people,
        args.identities + 1,
    )
    for name, cfg in (
        ("defaults (4 looks/frame, 200 ms, settled tracks 1 s)", FaceRecognitionConfig()),
        ("settled tracks every 200 ms too (before)", FaceRecognitionConfig(settled_look_every_ms=200)),
        (
            "worst case (every person, every frame)",
            FaceRecognitionConfig(look_every_ms=0, settled_look_every_ms=0, max_looks_per_frame=100),
        ),
    ):
        det_s, stage_s, found = run(frames, detector, runtime, cfg)
        logger.info(
            "%s: detector %.1f ms/frame, stage p50 %.1f mean %.1f ms/frame, stage/detector %.2f, "
            "%d face results",
            name,
            1000 * float(np.median(det_s)),
            1000 * float(np.median(stage_s)),
            1000 * float(np.mean(stage_s)),
            float(np.mean(stage_s) / np.mean(det_s)),
            found,
        )
    crops = [face] * 20
    t0 = time.perf_counter()
    for crop in crops:
        boxes = model.detect(crop)
        model.encode(crop, boxes[:1])
    per_s = len(crops) / (time.perf_counter() - t0)
    logger.info(
        "faces detected + encoded per second (one thread, %dx%d crops): %.1f",
        face.shape[1],
        face.shape[0],
        per_s,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
