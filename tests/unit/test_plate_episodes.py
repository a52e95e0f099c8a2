"""What a plate decision is about: a tracked vehicle (its tracker id) or a plate episode in a region
(numbered per camera, no track id); the plate rules report once per vehicle or episode. A fake reader
returns scripted reads (no OCR)."""

from __future__ import annotations

import threading
from typing import cast

import numpy as np
import supervision as sv

from detectors.plates import PlateRead, PlateReader
from pipelines.analytics.base import FrameContext
from pipelines.analytics.engine import RuleEngine
from pipelines.analytics.plate_read import PlateReadConfig
from pipelines.recognition.hotlist_book import HotlistBook
from pipelines.recognition.plates import PlateRecognitionConfig, PlateRecognizer
from pipelines.recognition.stage import Recognitions, StageFrame

FRAME = np.zeros((480, 640, 3), np.uint8)
NO_ONE = sv.Detections.empty()


class ScriptedReader:
    """Reads `text` (when it is not None) at `xyxy` wherever it is asked to read."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.xyxy = (100, 100, 200, 130)

    def read(
        self, image_bgr: np.ndarray, roi_xyxy: tuple[int, int, int, int] | None = None
    ) -> list[PlateRead]:
        if self.text is None:
            return []
        return [PlateRead(self.text, self.text, "ordinary", None, 0.9, self.xyxy)]


def vehicles(*track_ids: int) -> sv.Detections:
    n = len(track_ids)
    return sv.Detections(
        xyxy=np.array([[50 + 150 * i, 200, 180 + 150 * i, 300] for i in range(n)], np.float32),
        confidence=np.full(n, 0.9, np.float32),
        class_id=np.zeros(n, int),
        tracker_id=np.array(track_ids),
        data={"label": np.array(["car"] * n)},
    )


def recognizer(reader: ScriptedReader, *, regions: bool) -> PlateRecognizer:
    config = PlateRecognitionConfig(look_every_ms=0, max_looks_per_frame=4, episode_gap_ms=1_000)
    return PlateRecognizer(
        [] if regions else ["car"],
        [(0.0, 0.0, 1.0, 1.0)] if regions else [],
        cast(PlateReader, reader),
        threading.Lock(),
        HotlistBook(),
        config,
    )


def test_a_vehicle_decision_carries_its_track_and_no_episode() -> None:
    reader = ScriptedReader()
    reader.text = "京A12345"
    plates = recognizer(reader, regions=False)
    decided = [d for i in range(3) for d in plates.observe(StageFrame("cam", i * 100, FRAME, vehicles(7)))]
    assert decided and {(d.track_id, d.episode_id, d.key) for d in decided} == {(7, None, ("track", 7))}


def test_region_plates_form_episodes_reported_once_each() -> None:
    reader = ScriptedReader()
    plates = recognizer(reader, regions=True)
    rules = RuleEngine.build([PlateReadConfig(id="reads", type="plate_read")], [], [], (640, 480))
    script = ["京A12345"] * 3 + [None] * 12 + ["京A12345"] * 3 + ["沪B54321"] * 3  # gap 1.2 s > 1 s
    findings = []
    for i, text in enumerate(script):
        reader.text = text
        reader.xyxy = (100, 100, 200, 130) if text != "沪B54321" else (400, 300, 500, 330)
        ts_ms = i * 100
        decisions = plates.observe(StageFrame("cam", ts_ms, FRAME, NO_ONE))
        assert all(d.track_id is None and d.episode_id is not None for d in decisions)
        ctx = FrameContext.of(NO_ONE, ts_ms, (640, 480))
        ctx.recognitions = Recognitions(results=list(decisions))
        findings += rules.evaluate(ctx)
    reported = [(f.attributes.model_dump()["plate"], f.track_id) for f in findings]
    # the same plate again after the gap is a new episode; another plate elsewhere is another
    assert reported == [("京A12345", None), ("京A12345", None), ("沪B54321", None)]
