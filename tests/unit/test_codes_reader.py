"""CodeReader over QR / EAN-13 / Code 128 symbols composited into vtest frames; payload sanitising."""

from __future__ import annotations

from typing import Any

import numpy as np
import pydantic
import pytest
import zxingcpp

from detectors.base import DetectorError, box_iou
from detectors.codes import REPLACEMENT, CodeReader, CodeReaderConfig, sanitise_payload
from tests.code_render import code_scenes, code_symbol, multi_code_scene, place_code
from tests.plate_render import background


@pytest.fixture(scope="module")
def reader() -> CodeReader:
    return CodeReader()


def test_every_composited_code_read_exactly_once(reader: CodeReader) -> None:
    scenes = code_scenes()
    assert {s.format for s in scenes} == {"QRCode", "EAN13", "Code128"}
    for scene in scenes:
        reads = reader.read(scene.image)
        assert [(r.format, r.text) for r in reads] == [(scene.format, scene.payload)], scene.xyxy
        assert reads[0].truncated is False
        assert reads[0].payload_bytes == len(scene.payload.encode())
        assert box_iou(reads[0].xyxy, scene.xyxy) > 0.0 or _inside(reads[0].xyxy, scene.xyxy)


def _inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    """A linear symbol's position is a scan line: flat, inside the symbol."""
    return outer[0] <= inner[0] <= inner[2] <= outer[2] and outer[1] <= inner[1] <= inner[3] <= outer[3]


def test_several_codes_in_one_frame(reader: CodeReader) -> None:
    image, placed = multi_code_scene()
    reads = reader.read(image)
    assert sorted((r.format, r.text) for r in reads) == sorted((f, p) for f, p, _ in placed)


def test_plain_frames_give_nothing(reader: CodeReader) -> None:
    for index in (0, 7, 21):
        assert reader.read(background(index)) == []


def test_hostile_payload_is_sanitised_and_truncated(reader: CodeReader) -> None:
    payload = (
        b"\x1b[31mred\x07\x00\r\n\xc3\x28\xe2\x80\xaeevil" + b"A" * 2600
    )  # escape, bell, NUL, bad UTF-8, RLO
    image = background(2)
    place_code(image, code_symbol("QRCode", payload, 2), (384.0, 288.0), 3.0)
    reads = reader.read(image)
    assert len(reads) == 1
    read = reads[0]
    assert read.payload_bytes == len(payload)
    assert read.truncated is True
    assert len(read.text) == 1024
    assert read.text.startswith(
        REPLACEMENT + "[31mred" + REPLACEMENT * 4 + REPLACEMENT + "(" + REPLACEMENT + "evil"
    )
    assert all(ch == "A" for ch in read.text[20:])


def test_sanitise_4_kb() -> None:
    raw = ("\x00\x01\t\n\x7f\x85\u202e\u2066ok" + "x" * 4096).encode() + b"\xff\xfe"
    text, truncated = sanitise_payload(raw, 1024)
    assert truncated is True
    assert len(text) == 1024
    assert text.startswith(REPLACEMENT * 8 + "ok")
    assert set(text[10:]) == {"x"}
    text, truncated = sanitise_payload(raw, 10_000)
    assert truncated is False
    assert text.endswith("x" + REPLACEMENT * 2)  # the invalid bytes


@pytest.mark.parametrize(
    ("raw", "max_chars", "expected"),
    [
        ("plain", 1024, ("plain", False)),
        ("访客证", 2, ("访客", True)),
        (b"caf\xc3\xa9", 10, ("café", False)),
        (b"caf\xe9", 10, ("caf" + REPLACEMENT, False)),
        ("a\ud800b", 10, ("a" + REPLACEMENT + "b", False)),  # lone surrogate
        ("tab\there", 10, ("tab" + REPLACEMENT + "here", False)),
        ("", 5, ("", False)),
    ],
)
def test_sanitise_table(raw: bytes | str, max_chars: int, expected: tuple[str, bool]) -> None:
    assert sanitise_payload(raw, max_chars) == expected


def test_sanitise_rejects_a_zero_limit() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        sanitise_payload("x", 0)


def test_config_names_unknown_format() -> None:
    with pytest.raises(pydantic.ValidationError, match="Nope"):
        CodeReaderConfig(formats=("QRCode", "Nope"))
    with pytest.raises(pydantic.ValidationError):
        CodeReaderConfig(max_payload_chars=0)


def test_formats_are_respected() -> None:
    scene = next(s for s in code_scenes() if s.format == "EAN13")
    assert CodeReader(CodeReaderConfig(formats=("QRCode",))).read(scene.image) == []


def test_bad_input_and_library_failure(reader: CodeReader, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="uint8"):
        reader.read(np.zeros((8, 8, 3), np.float32))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("zxing exploded")

    monkeypatch.setattr(zxingcpp, "read_barcodes", broken)
    with pytest.raises(DetectorError, match="exploded"):
        reader.read(np.zeros((8, 8, 3), np.uint8))
