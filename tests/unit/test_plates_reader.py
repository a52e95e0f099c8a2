"""PlateReader over rendered plates (every format and colour, in vtest scenes), a real blurred plate,
plate-free frames, regions of interest, bad input and library failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pydantic
import pytest

from detectors.base import DetectorError, FrameBGR, box_iou
from detectors.plate_format import FORMAT_NAMES, PLATE_COLOURS, PlateColour
from detectors.plate_lines import plate_colour
from detectors.plates import PlateReader, PlateReaderConfig
from tests.plate_render import PlateScene, PlateSpec, background, plate_scene, plate_scenes, render_plate

MOTION_PLATE = Path("/usr/share/doc/opencv-doc/examples/data/licenseplate_motion.jpg")


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader()


@pytest.fixture(scope="module")
def scenes() -> list[PlateScene]:
    return plate_scenes()


def test_rendered_set_covers_every_format_and_colour(scenes: list[PlateScene]) -> None:
    assert len(scenes) >= 60
    assert {s.spec.format for s in scenes} == set(FORMAT_NAMES)
    assert {s.spec.colour for s in scenes} == set(PLATE_COLOURS)
    assert any(s.spec.rows == 2 for s in scenes)


@pytest.mark.slow
def test_rendered_set_reads_exactly(reader: PlateReader, scenes: list[PlateScene]) -> None:
    exact = colours = 0
    misses: list[str] = []
    for scene in scenes:
        reads = reader.read(scene.image)
        if [r.text for r in reads] == [scene.spec.text]:
            exact += 1
            read = reads[0]
            assert read.format == scene.spec.format
            assert box_iou(read.xyxy, scene.xyxy) > 0.3, (read.xyxy, scene.xyxy)
            assert 0.0 < read.confidence <= 1.0
            colours += read.colour == scene.spec.colour
        else:
            misses.append(f"{scene.spec.text}: {[(r.raw_text, r.text) for r in reads]}")
    rate = exact / len(scenes)
    print(f"plates: exact reads {100 * rate:.1f} % ({exact}/{len(scenes)}), colour right {colours}/{exact}")  # noqa: T201
    assert rate >= 0.95, misses
    assert colours >= 0.95 * exact


def test_motion_blurred_plate_gives_no_read(reader: PlateReader) -> None:
    image = cv2.imread(str(MOTION_PLATE))
    assert image is not None, f"{MOTION_PLATE} missing (Debian package opencv-doc)"
    assert reader.read(np.ascontiguousarray(image, dtype=np.uint8)) == []


@pytest.mark.parametrize("index", [0, 5, 17])
def test_plate_free_frames_give_no_read(reader: PlateReader, index: int) -> None:
    assert reader.read(background(index)) == []


def test_invalid_text_on_a_plate_is_dropped(reader: PlateReader) -> None:
    for text in ("京A1234", "HELLO12"):  # too short for any format; not a plate at all
        scene = plate_scene(PlateSpec(text, "ordinary", "blue", 2), 3)
        assert reader.read(scene.image) == [], text


def test_region_of_interest(reader: PlateReader, scenes: list[PlateScene]) -> None:
    scene = scenes[0]
    x1, y1, x2, y2 = scene.xyxy
    roi = (x1 - 60, y1 - 40, x2 + 60, y2 + 40)
    reads = reader.read(scene.image, roi)
    assert [r.text for r in reads] == [scene.spec.text]
    # boxes come back in the full image's pixels
    assert box_iou(reads[0].xyxy, scene.xyxy) > 0.3
    # a region beside the plate holds none
    assert reader.read(scene.image, (0, 0, max(8, x1 - 5), max(8, y1 - 5))) == []
    # degenerate and outside regions read nothing
    assert reader.read(scene.image, (10, 10, 12, 12)) == []
    assert reader.read(scene.image, (5000, 5000, 6000, 6000)) == []


def test_flat_crop_and_colour(reader: PlateReader) -> None:
    spec = PlateSpec("粤BD12345", "new_energy_small", "green", 2)
    crop = cv2.copyMakeBorder(render_plate(spec), 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=(90, 90, 90))
    small = cv2.resize(crop, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    reads = reader.read(np.ascontiguousarray(small, dtype=np.uint8))
    assert [(r.text, r.format, r.colour) for r in reads] == [("粤BD12345", "new_energy_small", "green")]


@pytest.mark.parametrize(
    ("bgr", "expected"),
    [
        ((180, 70, 10), "blue"),
        ((20, 190, 245), "yellow"),
        ((80, 170, 40), "green"),
        ((240, 240, 240), "white"),
        ((15, 15, 15), "black"),
    ],
)
def test_plate_colour_vote(bgr: tuple[int, int, int], expected: PlateColour) -> None:
    image = np.full((60, 200, 3), bgr, np.uint8)
    cv2.putText(image, "A12345", (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (128, 128, 128), 2)
    assert plate_colour(image, (20, 10, 180, 50)) == expected
    others = tuple(c for c in PLATE_COLOURS if c != expected)
    assert plate_colour(image, (20, 10, 180, 50), others) != expected


def test_bad_input_and_config() -> None:
    with pytest.raises(pydantic.ValidationError, match="hk"):
        PlateReaderConfig(extra_patterns={"hk": "[A-Z"})
    with pytest.raises(pydantic.ValidationError):
        PlateReaderConfig(det_limit_side_len=0)


def test_wrong_image_shape_is_a_value_error(reader: PlateReader) -> None:
    with pytest.raises(ValueError, match="BGR"):
        reader.read(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="BGR"):
        reader.read(np.zeros((10, 10, 3), np.float32))


def test_library_failure_is_a_detector_error(monkeypatch: pytest.MonkeyPatch, reader: PlateReader) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("onnxruntime exploded")

    monkeypatch.setattr(reader, "_ocr", broken)
    with pytest.raises(DetectorError, match="exploded"):
        reader.read(np.zeros((64, 64, 3), np.uint8))


def test_extra_pattern_reads_other_formats(reader: PlateReader) -> None:
    spec = PlateSpec("ABC1234", "plain_latin", "white", 3)
    image: FrameBGR = plate_scene(spec, 7).image
    assert reader.read(image) == []  # no built-in format
    other = PlateReader(PlateReaderConfig(extra_patterns={"plain_latin": "[A-Z]{3}[0-9]{4}"}))
    reads = other.read(image)
    assert [(r.text, r.format, r.colour) for r in reads] == [("ABC1234", "plain_latin", "white")]
