"""Plates and codes through the camera worker: rendered plates read once per appearance and matched
against hotlists (exact, wildcard, one character off), an unreadable plate matches nothing, codes read
once per appearance with hostile payloads sanitised."""

from __future__ import annotations

import pytest
import supervision as sv

from detectors.base import FrameBGR
from events.schema import Severity
from pipelines.analytics.code_read import CodeReadConfig
from pipelines.analytics.plate_match import PlateMatchConfig
from pipelines.analytics.plate_read import PlateReadConfig
from pipelines.analytics.spec import RuleBase
from pipelines.recognition.hotlist import HotlistEntry
from pipelines.recognition.hotlist_book import HotlistBook, ListInfo
from pipelines.recognition.readers import ReaderRuntime
from pipelines.worker import CameraWorker
from tests.code_render import code_scenes, code_symbol, place_code
from tests.face_video import load
from tests.plate_render import background, plate_scene, plate_specs
from tests.unit.detector_assets import MEDIA_DIR
from tests.unit.publishers import Collect
from tests.unit.recognition_helpers import camera_worker

PLATES = 20
WHOLE = [(0.0, 0.0, 1.0, 1.0)]
T0_MS = 1_700_000_000_000


@pytest.fixture(scope="module")
def runtime() -> ReaderRuntime:
    return ReaderRuntime(HotlistBook())


def worker(runtime: ReaderRuntime, rules: list[RuleBase], out: Collect) -> CameraWorker:
    return camera_worker("gate", rules, out, runtime.factories())


def feed(w: CameraWorker, frames: list[tuple[int, FrameBGR]]) -> None:
    for ts_ms, frame in frames:
        w.analyse(frame, sv.Detections.empty(), T0_MS + ts_ms, ts_ms)


def test_rendered_plates_are_read_once_each_and_only_hotlisted_ones_match(runtime: ReaderRuntime) -> None:
    specs = plate_specs(0)[:: max(1, len(plate_specs(0)) // PLATES)][:PLATES]
    texts = [s.text for s in specs]
    assert len(set(texts)) == len(texts) and len({s.format for s in specs}) >= 5
    one_off = texts[3][:-1] + ("0" if texts[3][-1] != "0" else "1")  # the last character wrong
    runtime.hotlists.put(
        ListInfo("hl_wanted", "wanted", Severity.CRITICAL),
        [HotlistEntry("e1", texts[0]), HotlistEntry("e2", texts[1][:4] + "*"), HotlistEntry("e3", one_off)],
        max_distance=1,
    )
    runtime.hotlists.put(ListInfo("hl_other", "other", Severity.HIGH), [HotlistEntry("x1", "京Z99999")], 0)
    rules: list[RuleBase] = [
        PlateReadConfig(id="reads", type="plate_read", regions_xyxy=WHOLE),
        PlateMatchConfig(id="wanted", type="plate_match", regions_xyxy=WHOLE, hotlists=["hl_wanted"]),
        PlateMatchConfig(id="other", type="plate_match", regions_xyxy=WHOLE, hotlists=["hl_other"]),
    ]
    out = Collect()
    w = worker(runtime, rules, out)
    frames = []
    for i, spec in enumerate(specs):  # each plate in view for 3 frames, then gone for 6 s
        frames += [(i * 7_000 + k * 500, plate_scene(spec, i, seed=k).image) for k in range(3)]
    feed(w, frames)
    reads = out.of_type("plate_read")
    read_texts = [e.attributes.model_dump()["plate"] for e in reads]
    assert len(read_texts) == len(set(read_texts)), "a plate was reported twice"
    exact = sum(t in read_texts for t in texts)
    assert exact >= 0.95 * len(texts), sorted(set(texts) - set(read_texts))
    assert not set(read_texts) - set(texts), "a read that is no rendered plate"
    assert all(e.track_id is None for e in reads), "a plate read in a region belongs to no track"
    matches = out.of_type("plate_match")
    got = {
        (e.rule_id, e.attributes.model_dump()["plate"], e.attributes.model_dump()["entry_id"])
        for e in matches
    }
    assert got == {("wanted", texts[0], "e1"), ("wanted", texts[1], "e2"), ("wanted", texts[3], "e3")}
    assert all(e.severity == Severity.CRITICAL for e in matches)
    assert (
        next(e for e in matches if e.attributes.model_dump()["entry_id"] == "e3").attributes.model_dump()[
            "distance"
        ]
        == 1
    )


def test_an_unreadable_plate_produces_no_read_and_no_match(runtime: ReaderRuntime) -> None:
    blurred = load(MEDIA_DIR / "licenseplate_motion.jpg")
    runtime.hotlists.put(
        ListInfo("hl_any", "any", Severity.HIGH), [HotlistEntry("a", "*12*"), HotlistEntry("b", "京A*")], 1
    )
    rules: list[RuleBase] = [
        PlateReadConfig(id="reads", type="plate_read", regions_xyxy=WHOLE),
        PlateMatchConfig(id="any", type="plate_match", regions_xyxy=WHOLE),
    ]
    out = Collect()
    feed(worker(runtime, rules, out), [(k * 500, blurred) for k in range(4)])
    assert out.events == []


def test_codes_are_read_once_per_appearance_and_hostile_payloads_are_sanitised(
    runtime: ReaderRuntime,
) -> None:
    scenes = code_scenes(0)
    out = Collect()
    w = worker(runtime, [CodeReadConfig(id="codes", type="code_read")], out)
    frames = []
    for i, scene in enumerate(scenes):  # in view for 3 reads, then gone past the window
        frames += [(i * 40_000 + k * 400, scene.image) for k in range(3)]
    hostile = "A\x00B\x1b[31mC\u202e" + "x" * 2800  # near a QR code's capacity (2,953 bytes)
    hostile_frame = background(5)
    place_code(hostile_frame, code_symbol("QRCode", hostile.encode(), 2), (384.0, 288.0), 0.0)
    frames += [(len(scenes) * 40_000 + k * 400, hostile_frame) for k in range(3)]
    feed(w, frames)
    codes = out.of_type("code_read")
    seen = [(e.attributes.model_dump()["format"], e.attributes.model_dump()["payload"]) for e in codes[:-1]]
    assert seen == [(s.format, s.payload) for s in scenes]  # each appearance exactly once, in order
    last = codes[-1].attributes.model_dump()
    assert last["truncated"] and last["payload_bytes"] == len(hostile.encode())
    assert len(last["payload"]) <= 1024 and not any(ord(c) < 32 or c == "\u202e" for c in last["payload"])
    assert last["payload"].startswith("A\ufffdB\ufffd[31mC\ufffd")
