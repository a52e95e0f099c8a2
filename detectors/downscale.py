"""The one downscale the model-free detectors share: fast and as smooth as an area average."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt


def shrink(image: npt.NDArray[np.uint8], size_wh: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """Area-average downscale to `size_wh`, fast: bilinear to twice the size, then an exact 2:1 area
    average. One INTER_AREA resize at a fractional ratio (768 -> 160 or 320) costs 5-7x more for the
    same smoothness (1.4 ms against 0.2 ms at 768 -> 160). Works on BGR and grey images."""
    width, height = size_wh
    if image.shape[1] > 2 * width and image.shape[0] > 2 * height:
        image = np.asarray(
            cv2.resize(image, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR), np.uint8
        )
    return np.asarray(cv2.resize(image, size_wh, interpolation=cv2.INTER_AREA), np.uint8)
