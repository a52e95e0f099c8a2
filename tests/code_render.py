"""Rendered codes for the code reader (tests and bench/codes.py): QR, EAN-13 and Code 128 symbols made by
zxing-cpp's writer, composited into vtest.avi frames at several sizes and small angles, blurred and noisy.
Deterministic (seeded).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

from detectors.base import FrameBGR
from tests.plate_render import background, degrade, paste


@dataclass(frozen=True, slots=True)
class CodeScene:
    image: FrameBGR
    format: str  # zxing-cpp's format name: "QRCode", "EAN13", "Code128"
    payload: str
    xyxy: tuple[int, int, int, int]


def code_symbol(fmt: str, payload: str | bytes, module_px: int) -> FrameBGR:
    """A black-on-white symbol with its quiet zone, `module_px` pixels per module, BGR."""
    barcode = zxingcpp.create_barcode(payload, zxingcpp.barcode_format_from_str(fmt))
    image = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=module_px), dtype=np.uint8)
    if fmt != "QRCode":  # linear symbols: give the bars some height
        image = np.ascontiguousarray(np.repeat(image[:1], max(60, image.shape[1] // 3), axis=0))
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))


def place_code(
    scene: FrameBGR, symbol: FrameBGR, centre: tuple[float, float], angle_deg: float
) -> tuple[int, int, int, int]:
    h, w = symbol.shape[:2]
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], np.float64) / 2
    angle = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return paste(scene, symbol, corners @ rotation.T + centre)


CODE_PAYLOADS = (
    ("QRCode", "https://example.invalid/ticket?id=4711"),
    ("QRCode", "访客 证 2024-0815 门禁"),
    ("EAN13", "5901234123457"),
    ("EAN13", "4006381333931"),
    ("Code128", "PALLET-00042"),
    ("Code128", "SN 7731-AX"),
)


def code_scenes(seed: int = 0) -> list[CodeScene]:
    """Each payload of CODE_PAYLOADS at 3 sizes (2, 3, 4 px per module) and small angles, one per frame."""
    rng = np.random.default_rng(seed)
    scenes: list[CodeScene] = []
    for i, (fmt, payload) in enumerate(CODE_PAYLOADS):
        for j, module_px in enumerate((2, 3, 4)):
            scene = background(3 * i + j)
            symbol = code_symbol(fmt, payload, module_px)
            angle = float(rng.uniform(-8, 8))
            h, w = symbol.shape[:2]
            centre = (
                float(rng.uniform(w / 2 + 20, 768 - w / 2 - 20)),
                float(rng.uniform(h / 2 + 20, 576 - h / 2 - 20)),
            )
            xyxy = place_code(scene, symbol, centre, angle)
            scenes.append(CodeScene(degrade(scene, rng), fmt, payload, xyxy))
    return scenes


def multi_code_scene(seed: int = 0) -> tuple[FrameBGR, list[tuple[str, str, tuple[int, int, int, int]]]]:
    """One frame holding a QR code, an EAN-13 and a Code 128 symbol: (scene, [(format, payload, xyxy)])."""
    rng = np.random.default_rng(seed)
    scene = background(30)
    placed = []
    for (fmt, payload), module_px, centre in zip(
        CODE_PAYLOADS[::2], (3, 3, 2), ((130.0, 130.0), (520.0, 150.0), (380.0, 440.0)), strict=True
    ):
        xyxy = place_code(scene, code_symbol(fmt, payload, module_px), centre, float(rng.uniform(-5, 5)))
        placed.append((fmt, payload, xyxy))
    return degrade(scene, rng), placed
