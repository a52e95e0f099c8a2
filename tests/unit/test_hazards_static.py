"""Static-object detector on vtest.avi: a bag left on the scene, an object taken away, and nothing else.

The first 3 s (30 frames) are the reference scene. From frame OBJECT_FROM a bag (a textured, outlined
box of 40 x 50 px) is pasted onto every frame, or a patch pasted on the first frames (the reference) is
taken away; it must be reported at its place, with its kind, once it has been still for T seconds and
at the latest T + 2 s after it appeared. People walk (and stand about) in every frame: they must not
be reported over the same frames, nor must a box that keeps sliding, nor one below the minimum area.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from pydantic import ValidationError

from detectors.base import FrameBGR
from detectors.static_objects import StaticKind, StaticObjectDetector, StaticObjectsConfig, StaticRegion
from tests.unit.hazard_media import VTEST_FPS, paste_patch, ts_ms, vtest

OBJECT_FROM = 40
T_S = StaticObjectsConfig().static_s
FRAMES = OBJECT_FROM + round((T_S + 3) * VTEST_FPS)  # 170: up to 3 s after the deadline
Box = tuple[int, int, int, int]


@dataclass
class Case:
    name: str
    xyxy: Box | None = None  # where the object is (None: nothing is added)
    bgr: tuple[int, int, int] = (40, 40, 200)
    # appear: pasted from OBJECT_FROM on; vanish: pasted before OBJECT_FROM only; slide: moving from then on
    mode: Literal["appear", "vanish", "slide"] = "appear"
    kind: StaticKind | None = None  # expected; None: no region at all
    frames: int = FRAMES


CASES = [
    Case("vtest alone: people walking and standing about", frames=300),
    Case("red bag on the grass", (300, 420, 340, 470), kind="appeared"),
    Case(
        "blue bag on the road, people walking past it", (560, 330, 600, 380), (200, 60, 30), kind="appeared"
    ),
    Case("orange bag at the feet of a group talking", (380, 300, 420, 350), (30, 160, 220), kind="appeared"),
    Case(
        "object taken away from the grass",
        (600, 420, 640, 470),
        (30, 30, 180),
        mode="vanish",
        kind="disappeared",
    ),
    Case(
        "object taken away from the road",
        (250, 330, 290, 380),
        (200, 200, 60),
        mode="vanish",
        kind="disappeared",
    ),
    Case("box sliding 2 px a frame: never still", (100, 380, 140, 430), mode="slide", frames=300),
    Case("object below min_area_fraction (12 x 12 px)", (300, 420, 312, 432)),
]


def frames(case: Case) -> Iterator[FrameBGR]:
    for index, frame in enumerate(vtest(case.frames)):
        if case.xyxy is None:
            yield frame
        elif case.mode == "slide":
            x1, y1, x2, y2 = case.xyxy
            dx = 2 * (index - OBJECT_FROM)
            yield paste_patch(frame, (x1 + dx, y1, x2 + dx, y2), case.bgr) if dx >= 0 else frame
        elif (index >= OBJECT_FROM) == (case.mode == "appear"):
            yield paste_patch(frame, case.xyxy, case.bgr)
        else:
            yield frame


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_static_regions(case: Case) -> None:
    detector = StaticObjectDetector(StaticObjectsConfig())
    reported: list[tuple[int, StaticRegion]] = []
    for index, frame in enumerate(frames(case)):
        result = detector.update(frame, ts_ms(index))
        assert result.learning == (index < 30)
        reported.extend((index, region) for region in result.regions)
    if case.kind is None:
        assert reported == [], f"unexpected regions: {reported[:3]}"
        return
    assert case.xyxy is not None
    at_object = [(i, r) for i, r in reported if iou(r.xyxy, case.xyxy) >= 0.5]
    assert at_object, f"nothing reported at {case.xyxy}; elsewhere: {reported[:3]}"
    first_index, first = at_object[0]
    appeared_ms = ts_ms(OBJECT_FROM)
    assert ts_ms(first_index) - appeared_ms >= T_S * 1000, "reported before it was still for T"
    assert ts_ms(first_index) - appeared_ms <= (T_S + 2) * 1000, f"reported only at frame {first_index}"
    assert first.kind == case.kind and iou(first.xyxy, case.xyxy) >= 0.5, first
    assert abs(first.first_seen_ts_ms - appeared_ms) <= 1000 and first.still_s >= T_S
    # it stays reported, as one region, to the end
    after = [(i, r) for i, r in at_object if i >= first_index]
    assert [i for i, _ in after] == list(range(first_index, case.frames))
    assert {r.first_seen_ts_ms for _, r in after} == {first.first_seen_ts_ms}
    assert 0.002 < after[-1][1].area_fraction < 0.01  # 40 x 50 px of 768 x 576 is 0.0045


def test_short_t_reports_sooner() -> None:
    bag_xyxy = (300, 420, 340, 470)
    detector = StaticObjectDetector(StaticObjectsConfig(static_s=4.0))
    first_index = None
    for index, frame in enumerate(vtest(OBJECT_FROM + 60)):
        edited = paste_patch(frame, bag_xyxy, (40, 40, 200)) if index >= OBJECT_FROM else frame
        regions = detector.update(edited, ts_ms(index)).regions
        if first_index is None and any(iou(r.xyxy, bag_xyxy) >= 0.5 for r in regions):
            first_index = index
    assert first_index == OBJECT_FROM + 4 * VTEST_FPS


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"typo": 1}, "Extra inputs"),
        ({"type": "abandoned"}, "static_objects"),
        ({"min_area_fraction": 0.3, "max_area_fraction": 0.2}, "min_area_fraction must be <"),
        ({"short_time_constant_s": 400}, "short_time_constant_s must be <"),
        ({"static_s": 0}, "greater than 0"),
    ],
)
def test_config_errors_name_the_key(config: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        StaticObjectsConfig.model_validate(config)
