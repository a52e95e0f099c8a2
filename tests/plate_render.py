"""Rendered ground truth for the plate and code readers (tests and bench/codes.py): deterministic, seeded.

Plates: `plate_specs()` draws 64 plates over every format of detectors.plate_format and every colour
(ordinary ones blue and yellow); `render_plate` draws one flat, in the issued colours (blue: white on
blue; yellow: black on yellow; green: black on a light-to-dark green gradient; white: black on white with
the special character, or a military plate's two letters, red; black: white on black, 使/领 red), with
the CJK font of Debian's fonts-wqy-zenhei; `plate_scenes()` puts each on a car-ish block in a vtest.avi
frame with perspective, partial shadow, blur and sensor noise, and gives (scene, truth, plate xyxy).
Two-row plates (the rear plates of large vehicles and trailers: the province and letter above, the
rest below) are among them. The code scenes are in tests/code_render.py.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from detectors.base import FrameBGR
from detectors.plate_format import PROVINCES, PlateColour

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
RGB = tuple[int, int, int]
_RED: RGB = (200, 20, 20)
_STYLE: dict[PlateColour, tuple[RGB, RGB]] = {  # background (top), text
    "blue": ((10, 70, 180), (250, 250, 250)),
    "yellow": ((245, 190, 20), (10, 10, 10)),
    "green": ((200, 240, 205), (10, 10, 10)),
    "white": ((240, 240, 240), (10, 10, 10)),
    "black": ((15, 15, 15), (245, 245, 245)),
}
_GREEN_BOTTOM: RGB = (40, 170, 80)


@dataclass(frozen=True, slots=True)
class PlateSpec:
    text: str  # canonical, as parse_plate returns it
    format: str
    colour: PlateColour
    split: int  # the separator dot goes after this many characters (0: none)
    red: tuple[int, ...] = ()  # indexes of characters drawn red
    rows: int = 1  # 2: province and letter above, the rest below


@dataclass(frozen=True, slots=True)
class PlateScene:
    image: FrameBGR
    spec: PlateSpec
    xyxy: tuple[int, int, int, int]


def _pick(rng: np.random.Generator, chars: str, n: int = 1) -> str:
    return "".join(chars[int(i)] for i in rng.integers(0, len(chars), n))


def _serial(rng: np.random.Generator, n: int) -> str:
    """n serial characters, mostly digits with at most two letters (as issued)."""
    chars = list(_pick(rng, "0123456789", n))
    for pos in rng.choice(n, size=int(rng.integers(0, 3)), replace=False):
        chars[int(pos)] = _pick(rng, _LETTERS)
    return "".join(chars)


def _spec(rng: np.random.Generator, kind: str) -> PlateSpec:
    head = _pick(rng, PROVINCES) + _pick(rng, _LETTERS)
    digits = "0123456789"
    if kind in ("blue", "yellow"):
        return PlateSpec(head + _serial(rng, 5), "ordinary", kind, 2)  # type: ignore[arg-type]
    if kind == "new_energy_small":
        tail = _pick(rng, "DF") + _pick(rng, _LETTERS + digits) + _pick(rng, digits, 4)
        return PlateSpec(head + tail, kind, "green", 2)
    if kind == "new_energy_large":
        return PlateSpec(head + _pick(rng, digits, 5) + _pick(rng, "DF"), kind, "green", 2)
    special = {"police": ("警", "white"), "coach": ("学", "yellow"), "trailer": ("挂", "yellow")}
    special |= {"consulate": ("领", "black"), "hk_macau": (_pick(rng, "港澳"), "black")}
    if kind in special:
        char, colour = special[kind]
        head = "粤Z" if kind == "hk_macau" else head
        red = (6,) if kind in ("police", "consulate") else ()
        return PlateSpec(head + _serial(rng, 4) + char, kind, colour, 2, red)  # type: ignore[arg-type]
    if kind == "embassy":
        number = _pick(rng, digits, 6)
        if rng.random() < 0.5:
            return PlateSpec("使" + number, kind, "black", 1, (0,))
        return PlateSpec(number + "使", kind, "black", 3, (6,))
    if kind == "military":
        return PlateSpec(
            _pick(rng, "BCEGHJKLNSVZ") + _pick(rng, _LETTERS) + _pick(rng, digits, 5),
            kind,
            "white",
            2,
            (0, 1),
        )
    assert kind == "armed_police", kind
    if rng.random() < 0.5:
        return PlateSpec(
            "WJ" + _pick(rng, PROVINCES) + _pick(rng, digits, 4) + _pick(rng, "消边通森金警电"),
            kind,
            "white",
            3,
            (0, 1),
        )
    return PlateSpec("WJ" + _pick(rng, digits, 5), kind, "white", 2, (0, 1))


PLATE_MIX = (
    ("blue", 14), ("yellow", 8), ("new_energy_small", 8), ("new_energy_large", 5), ("police", 5),
    ("coach", 4), ("trailer", 4), ("consulate", 3), ("hk_macau", 3), ("embassy", 3), ("military", 4),
    ("armed_police", 3),
)  # fmt: skip
TWO_ROW = {"yellow": 3, "trailer": 2}  # the first ones of these kinds are two-row plates


def plate_specs(seed: int = 0) -> list[PlateSpec]:
    """64 distinct plates in PLATE_MIX's proportions, 5 of them two-row (TWO_ROW)."""
    rng = np.random.default_rng(seed)
    specs: dict[str, PlateSpec] = {}
    for kind, count in PLATE_MIX:
        made = 0
        while made < count:
            spec = _spec(rng, kind)
            if spec.text not in specs:
                two_row = made < TWO_ROW.get(kind, 0)
                specs[spec.text] = dataclasses.replace(spec, rows=2) if two_row else spec
                made += 1
    return list(specs.values())


@functools.cache
def _font(size_px: int) -> ImageFont.FreeTypeFont:
    if not FONT.is_file():
        raise FileNotFoundError(f"{FONT} missing (Debian package fonts-wqy-zenhei)")
    return ImageFont.truetype(str(FONT), size_px)


@functools.cache
def _glyph(ch: str) -> Image.Image:
    """`ch` as a tight 8-bit mask (tall narrow plate lettering is made by resizing it into its cell)."""
    font = _font(120)
    left, top, right, bottom = (round(v) for v in font.getbbox(ch))
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text((-left, -top), ch, font=font, fill=255)
    return mask


def _draw_chars(
    image: Image.Image, spec: PlateSpec, first: int, last: int, box: tuple[float, float, float, float]
) -> None:
    """Characters first..last-1 of `spec`, tall and narrow, in even cells over `box` (x, y, width, height)."""
    x0, y0, width, height_px = box
    cell = width / (last - first)
    for i in range(first, last):
        glyph = _glyph(spec.text[i])
        glyph_w = min(round(cell * 0.82), round(glyph.width * height_px / glyph.height))
        glyph = glyph.resize((glyph_w, round(height_px)), Image.Resampling.LANCZOS)
        colour = Image.new("RGB", glyph.size, _RED if i in spec.red else _STYLE[spec.colour][1])
        image.paste(colour, (round(x0 + cell * (i - first) + (cell - glyph_w) / 2), round(y0)), glyph)


def render_plate(spec: PlateSpec) -> FrameBGR:
    """The flat plate, BGR: 440 x 140 px (480 x 140 for 8 characters; 440 x 220 for two rows)."""
    n = len(spec.text)
    width, height = (480 if n >= 8 else 440), (220 if spec.rows == 2 else 140)
    bg, fg = _STYLE[spec.colour]
    image = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(image)
    if spec.colour == "green":
        for y in range(height):
            t = y / (height - 1)
            fill = tuple(round(a + (b - a) * t) for a, b in zip(bg, _GREEN_BOTTOM, strict=True))
            draw.line([(0, y), (width, y)], fill=fill)
    draw.rectangle((6, 6, width - 7, height - 7), outline=fg, width=3)
    if spec.rows == 2:
        _draw_chars(image, spec, 0, 2, (130, 16, 180, 70))
        _draw_chars(image, spec, 2, n, (18, 98, width - 36, 106))
    else:
        dot_px = 24 if spec.split else 0
        left = width - 36 - dot_px
        split = spec.split or n
        _draw_chars(image, spec, 0, split, (18, 22, left * split / n, 96))
        if split < n:
            _draw_chars(
                image, spec, split, n, (18 + dot_px + left * split / n, 22, left * (n - split) / n, 96)
            )
        if spec.split:
            cx = 18 + left * split / n + dot_px / 2
            draw.ellipse((cx - 6, height / 2 - 6, cx + 6, height / 2 + 6), fill=fg)
    return np.ascontiguousarray(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR))


@functools.cache
def _vtest_frames(count: int = 40, step: int = 19) -> tuple[FrameBGR, ...]:
    capture = cv2.VideoCapture(str(VTEST))
    frames: list[FrameBGR] = []
    for index in range(count * step):
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(np.ascontiguousarray(frame, dtype=np.uint8))
    capture.release()
    if not frames:
        raise FileNotFoundError(f"{VTEST} missing or unreadable (Debian package opencv-doc)")
    return tuple(frames)


def background(index: int) -> FrameBGR:
    frames = _vtest_frames()
    return frames[index % len(frames)].copy()


def paste(scene: FrameBGR, patch: FrameBGR, quad: np.ndarray) -> tuple[int, int, int, int]:
    """Warps `patch` onto `quad` (4 x 2, clockwise from top-left) of `scene`; returns its xyxy."""
    h, w = patch.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    size = (scene.shape[1], scene.shape[0])
    warped = cv2.warpPerspective(patch, matrix, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, size, flags=cv2.INTER_AREA)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    scene[:] = (warped * alpha + scene * (1.0 - alpha)).astype(np.uint8)
    x1, y1 = np.floor(quad.min(axis=0)).astype(int)
    x2, y2 = np.ceil(quad.max(axis=0)).astype(int)
    return int(x1), int(y1), int(x2), int(y2)


def degrade(scene: FrameBGR, rng: np.random.Generator) -> FrameBGR:
    sigma = float(rng.uniform(0.5, 1.1))
    blurred = cv2.GaussianBlur(scene, (0, 0), sigma)
    noise = rng.normal(0.0, float(rng.uniform(2.0, 6.0)), scene.shape)
    return np.clip(blurred.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def plate_scene(spec: PlateSpec, index: int, seed: int = 0) -> PlateScene:
    """`spec`'s plate on a car-ish block in a vtest frame, with perspective, shadow, blur and noise."""
    rng = np.random.default_rng([seed, index])
    scene = background(index)
    plate = render_plate(spec)
    width_px = float(rng.uniform(130, 210)) * plate.shape[1] / 440
    height_px = width_px * plate.shape[0] / plate.shape[1]
    cx, cy = float(rng.uniform(180, 590)), float(rng.uniform(200, 470))
    body = (
        int(cx - 1.6 * width_px),
        int(cy - 1.5 * height_px),
        int(cx + 1.6 * width_px),
        int(cy + 1.4 * height_px),
    )
    cv2.rectangle(scene, body[:2], body[2:], tuple(int(c) for c in rng.integers(30, 200, 3)), -1)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * [width_px / 2, height_px / 2]
    angle = np.deg2rad(float(rng.uniform(-6, 6)))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = corners @ rotation.T + [cx, cy]
    quad += rng.uniform(-0.06, 0.06, (4, 2)) * [width_px, height_px]  # perspective
    xyxy = paste(scene, plate, quad)
    # a partial shadow: one side of a random line across the plate, darkened
    x1, y1, x2, y2 = xyxy
    yy, xx = np.mgrid[y1:y2, x1:x2]
    px, py = float(rng.uniform(x1, x2)), float(rng.uniform(y1, y2))
    theta = float(rng.uniform(0, np.pi))
    side = (xx - px) * np.sin(theta) - (yy - py) * np.cos(theta) > 0
    roi = scene[y1:y2, x1:x2].astype(np.float32)
    roi[side] *= float(rng.uniform(0.55, 0.75))
    scene[y1:y2, x1:x2] = roi.astype(np.uint8)
    return PlateScene(degrade(scene, rng), spec, xyxy)


def plate_scenes(seed: int = 0) -> list[PlateScene]:
    return [plate_scene(spec, i, seed) for i, spec in enumerate(plate_specs(seed))]
