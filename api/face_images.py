"""Uploaded images (enrolment, face search): read with limits, decoded safely, stored normalised.

The checks, in order, each failing with `ImageRejectedError` (`too_large` set for the size limits):
1. bytes: at most `max_bytes`, read with one capped read (a bigger file is never read whole);
2. the header (PIL opens lazily, no pixel decoded yet): a supported format (JPEG, PNG, WebP, BMP) whose
   width x height is at most `max_pixels`, so a pixel bomb (a small file declaring 60000 x 60000 px)
   is refused before it costs any memory;
3. the decode: truncated or corrupt data fails here (PIL raises; `cv2.imdecode` would hand back a
   partly grey image instead).
The EXIF orientation is applied (phone photos), alpha dropped, and the image kept as RGB.

An enrolment image is stored re-encoded as JPEG with its longest side at most a set size (metadata,
EXIF location included, is not kept); its SHA-256 is that of the original upload's bytes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

#: The formats PIL may open (nothing with several frames or vector content).
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
STORED_JPEG_QUALITY = 90


class ImageRejectedError(ValueError):
    """An upload that is not an acceptable image; `too_large` when a size limit refused it."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """A decoded upload: RGB pixels (orientation applied) and the SHA-256 of the bytes as uploaded."""

    image: Image.Image
    sha256: str

    @property
    def size_wh(self) -> tuple[int, int]:
        return self.image.size

    def bgr(self) -> npt.NDArray[np.uint8]:
        """The pixels as an H x W x 3 uint8 BGR array (what the face models take)."""
        rgb = np.asarray(self.image, dtype=np.uint8)
        return np.ascontiguousarray(rgb[:, :, ::-1])

    def jpeg(self, *, max_side_px: int, quality: int = STORED_JPEG_QUALITY) -> bytes:
        """The image re-encoded as JPEG, scaled down (never up) so its longest side is <= `max_side_px`."""
        image = self.image
        if max(image.size) > max_side_px:
            image = image.copy()
            image.thumbnail((max_side_px, max_side_px), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality)
        return out.getvalue()


def read_capped(stream: BinaryIO, *, max_bytes: int) -> bytes:
    """At most `max_bytes` from `stream` (ImageRejectedError, too_large, when there is more)."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageRejectedError(f"the file is larger than {max_bytes} bytes", too_large=True)
    if not data:
        raise ImageRejectedError("the file is empty")
    return data


def decode_image(data: bytes, *, max_pixels: int) -> DecodedImage:
    """The image in `data`, refused (ImageRejectedError) when it is not a supported image, declares more
    than `max_pixels` pixels (checked on the header, before decoding) or is truncated / corrupt."""
    digest = hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        # PIL warns (and beyond twice its own limit raises) about huge images; the limit here is ours.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        except Image.DecompressionBombError:
            raise ImageRejectedError(f"the image has more than {max_pixels} pixels", too_large=True) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, ImportError) as exc:
            # ImportError: ultralytics, when imported in the process, patches Image.open to try pi_heif
            # (absent) on files PIL does not know
            logger.debug("not an image: %s", exc)
            raise ImageRejectedError(
                f"not a supported image (expected one of {', '.join(IMAGE_FORMATS)})"
            ) from None
        with opened:
            width, height = opened.size
            if width <= 0 or height <= 0:
                raise ImageRejectedError(f"the image declares an empty size {width} x {height}")
            if width * height > max_pixels:
                raise ImageRejectedError(
                    f"the image is {width} x {height} px, more than {max_pixels} pixels", too_large=True
                )
            try:
                opened.load()
                rgb = ImageOps.exif_transpose(opened).convert("RGB")
            except Image.DecompressionBombError:
                raise ImageRejectedError(
                    f"the image has more than {max_pixels} pixels", too_large=True
                ) from None
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                logger.debug("undecodable %s image: %s", opened.format, exc)
                raise ImageRejectedError(f"the {opened.format} image is truncated or corrupt") from None
    return DecodedImage(image=rgb, sha256=digest)
