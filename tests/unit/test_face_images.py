"""api/face_images.py: uploads are read with a byte cap, refused on the header when they declare too many
pixels (before any decoding), refused when not an image or truncated, and stored normalised."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from api.face_images import ImageRejectedError, decode_image, read_capped

MESSI = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")
MAX_PIXELS = 40_000_000


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height pixels (a pixel bomb; its data is for 1 x 1)."""
    data = bytearray(encoded(Image.new("RGB", (1, 1)), "PNG"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def messi_bytes() -> bytes:
    return MESSI.read_bytes()


@pytest.mark.parametrize(
    ("content", "too_large", "words"),
    [
        (b"definitely not an image", False, "not a supported image"),
        (b"\x89PNG\r\n\x1a\n", False, "not a supported image"),
        (encoded(Image.new("RGB", (8, 8)), "GIF"), False, "not a supported image"),
        (messi_bytes()[: len(messi_bytes()) // 2], False, "truncated or corrupt"),
        (encoded(Image.new("RGB", (300, 200), (10, 200, 30)), "PNG")[:-200], False, "truncated or corrupt"),
        (png_declaring(100_000, 100_000), True, "more than 40000000 pixels"),
        (png_declaring(8000, 5001), True, "more than 40000000 pixels"),
    ],
    ids=["text", "png-magic-only", "gif", "truncated-jpeg", "truncated-png", "bomb", "just-over"],
)
def test_refused_uploads_say_why(content: bytes, too_large: bool, words: str) -> None:
    with pytest.raises(ImageRejectedError) as refused:
        decode_image(content, max_pixels=MAX_PIXELS)
    assert refused.value.too_large is too_large
    assert words in str(refused.value)


def test_the_pixel_limit_is_checked_before_decoding() -> None:
    """A header over the limit is refused as too large even though its data could never decode: the
    decoder never ran. A valid image at exactly the limit passes."""
    with pytest.raises(ImageRejectedError, match="2 x 2 px") as refused:
        decode_image(png_declaring(2, 2), max_pixels=3)
    assert refused.value.too_large
    assert decode_image(encoded(Image.new("RGB", (2, 2)), "PNG"), max_pixels=4).size_wh == (2, 2)


@pytest.mark.parametrize(("size", "limit", "ok"), [(10, 10, True), (11, 10, False), (0, 10, False)])
def test_read_capped(size: int, limit: int, ok: bool) -> None:
    stream = io.BytesIO(b"x" * size)
    if ok:
        assert read_capped(stream, max_bytes=limit) == b"x" * size
    else:
        with pytest.raises(ImageRejectedError) as refused:
            read_capped(stream, max_bytes=limit)
        assert refused.value.too_large is (size > limit)


#: Every format with the colour modes it can hold.
FORMAT_MODES = [
    *(("PNG", m) for m in ("RGB", "RGBA", "L", "P")),
    *(("JPEG", m) for m in ("RGB", "L", "CMYK")),
    *(("WEBP", m) for m in ("RGB", "RGBA", "L", "P")),
    *(("BMP", m) for m in ("RGB", "L", "P")),
]


@pytest.mark.parametrize(("fmt", "mode"), FORMAT_MODES)
def test_decodes_formats_and_modes_to_bgr(fmt: str, mode: str) -> None:
    source = Image.new("RGB", (30, 20), (200, 40, 10)).convert(mode)
    content = encoded(source, fmt)
    image = decode_image(content, max_pixels=MAX_PIXELS)
    bgr = image.bgr()
    assert bgr.shape == (20, 30, 3) and bgr.dtype == np.uint8
    assert image.sha256 == hashlib.sha256(content).hexdigest()
    if mode in ("RGB", "RGBA", "P"):  # colour kept: red is the last channel in BGR
        assert abs(int(bgr[10, 15, 2]) - 200) < 12 and abs(int(bgr[10, 15, 0]) - 10) < 12


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    content = encoded(Image.new("RGB", (40, 20), (90, 90, 90)), "JPEG", exif=exif)
    assert decode_image(content, max_pixels=MAX_PIXELS).size_wh == (20, 40)


@pytest.mark.parametrize(
    ("size_wh", "max_side", "stored_wh"),
    [((3000, 1000), 1024, (1024, 341)), ((500, 2048), 1024, (250, 1024)), ((300, 200), 1024, (300, 200))],
)
def test_stored_jpeg_is_scaled_down_never_up(
    size_wh: tuple[int, int], max_side: int, stored_wh: tuple[int, int]
) -> None:
    content = encoded(Image.new("RGB", size_wh, (1, 2, 3)), "PNG")
    stored = decode_image(content, max_pixels=MAX_PIXELS).jpeg(max_side_px=max_side)
    with Image.open(io.BytesIO(stored)) as back:
        assert back.format == "JPEG"
        assert back.size == stored_wh


def test_stored_jpeg_drops_exif_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make; a location would sit beside it
    content = encoded(Image.new("RGB", (40, 30)), "JPEG", exif=exif)
    stored = decode_image(content, max_pixels=MAX_PIXELS).jpeg(max_side_px=1024)
    assert b"PhoneMaker" in content and b"PhoneMaker" not in stored


def test_messi_decodes_whole() -> None:
    image = decode_image(messi_bytes(), max_pixels=MAX_PIXELS)
    assert image.size_wh == (548, 342)
    assert image.sha256 == hashlib.sha256(messi_bytes()).hexdigest()
