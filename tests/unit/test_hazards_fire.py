"""Model-free fire and smoke detector on real video: the flame video, vtest.avi, and composites on vtest.

Fire: the flame video (Debian castle-game-engine-doc, fetched by deploy/fetch_media.sh) must be flagged
in most frames after the warm-up (flicker window + K of M); vtest.avi (orange cones, brick walls, a
yellow object on the grass, people walking past them) never. Smoke: a grey plume spreading over vtest
frames must be found where it is; vtest alone, or a grey patch that does not spread, never.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from detectors.base import FrameBGR
from detectors.fire_smoke import FireSmokeConfig, FireSmokeDetector, HazardRegion
from tests.unit.hazard_media import (
    FLAME_FPS,
    VTEST_FPS,
    flame_video,
    paste_patch,
    smoke_plume,
    ts_ms,
    video_frames,
    vtest,
)

PLUME_FROM = 40  # first vtest frame with the plume / patch
PLUME_BASE_XY = (260, 540)  # on the grass, bottom left
PATCH_XYXY = (600, 420, 700, 500)  # on the grass, right of the tripod


def flame() -> Iterator[FrameBGR]:
    return video_frames(flame_video(), 90)


def vtest_300() -> Iterator[FrameBGR]:
    return vtest(300)


def vtest_with(
    edit: Callable[[FrameBGR, int], FrameBGR], count: int = 160
) -> Callable[[], Iterator[FrameBGR]]:
    def frames() -> Iterator[FrameBGR]:
        for index, frame in enumerate(vtest(count)):
            yield edit(frame, index - PLUME_FROM) if index >= PLUME_FROM else frame

    return frames


@dataclass
class Case:
    name: str
    frames: Callable[[], Iterator[FrameBGR]]
    fps: int
    fire_from: int | None = None  # fire expected in >= 90 % of the frames from this index; None: never
    smoke_from: int | None = None  # the same for smoke
    inside_xy: tuple[int, int] | None = None  # a point the first reported region must contain


CASES = [
    # warm-up: 8 frames to fill the flicker window + 12 of 16 persistence -> flagged from frame ~19
    Case("flame video: fire", flame, FLAME_FPS, fire_from=20, inside_xy=(128, 200)),
    Case("vtest.avi: no fire, no smoke", vtest_300, VTEST_FPS),
    Case(
        "vtest + spreading grey plume: smoke",
        vtest_with(lambda f, age: smoke_plume(f, age, PLUME_BASE_XY)),
        VTEST_FPS,
        smoke_from=PLUME_FROM + 20,
        inside_xy=(PLUME_BASE_XY[0], PLUME_BASE_XY[1] - 40),
    ),
    Case(
        "vtest + grey patch that does not spread: no smoke",
        vtest_with(lambda f, age: paste_patch(f, PATCH_XYXY, (190, 190, 190))),
        VTEST_FPS,
    ),
    Case(
        "vtest + steady orange patch: flame-coloured but no flicker, no fire",
        vtest_with(lambda f, age: paste_patch(f, PATCH_XYXY, (0, 140, 250))),
        VTEST_FPS,
    ),
]


def contains(region: HazardRegion, xy: tuple[int, int]) -> bool:
    x1, y1, x2, y2 = region.xyxy
    return x1 <= xy[0] <= x2 and y1 <= xy[1] <= y2


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fire_and_smoke_on_video(case: Case) -> None:
    detector = FireSmokeDetector(FireSmokeConfig())
    fire_frames: list[int] = []
    smoke_frames: list[int] = []
    first: dict[str, HazardRegion] = {}
    total = 0
    for index, frame in enumerate(case.frames()):
        result = detector.update(frame, ts_ms(index, case.fps))
        for kind, regions, hits in (
            ("fire", result.fire, fire_frames),
            ("smoke", result.smoke, smoke_frames),
        ):
            if regions:
                hits.append(index)
                first.setdefault(kind, regions[0])
                for region in regions:
                    assert 0.0 < region.area_fraction <= 1.0 and 0.0 <= region.score <= 1.0
                    x1, y1, x2, y2 = region.xyxy
                    assert 0 <= x1 < x2 <= frame.shape[1] and 0 <= y1 < y2 <= frame.shape[0]
        total = index + 1
    for kind, expected_from, hits in (
        ("fire", case.fire_from, fire_frames),
        ("smoke", case.smoke_from, smoke_frames),
    ):
        if expected_from is None:
            assert hits == [], f"false {kind} in frames {hits[:10]}... (first: {first.get(kind)})"
            continue
        flagged = sum(1 for i in hits if i >= expected_from)
        assert flagged >= 0.9 * (total - expected_from), (
            f"{kind} in {flagged} of {total - expected_from} frames"
        )
        if case.inside_xy is not None:
            assert contains(first[kind], case.inside_xy), (
                f"{kind} at {first[kind].xyxy}, not at {case.inside_xy}"
            )


def test_persisted_frames_and_first_seen_grow_with_the_flame() -> None:
    detector = FireSmokeDetector(FireSmokeConfig(smoke={"enabled": False}))
    seen: list[HazardRegion] = []
    for index, frame in enumerate(video_frames(flame_video(), 60)):
        seen.extend(detector.update(frame, ts_ms(index, FLAME_FPS)).fire[:1])
    assert len(seen) >= 30
    assert [r.persisted_frames for r in seen] == sorted(r.persisted_frames for r in seen)
    assert {r.first_seen_ts_ms for r in seen} == {seen[0].first_seen_ts_ms}
    assert seen[-1].area_fraction > 0.05  # the flame fills ~15 % of the 256 x 256 frame


def test_disabled_hazards_are_never_reported() -> None:
    config = FireSmokeConfig(fire={"enabled": False}, smoke={"enabled": False})
    detector = FireSmokeDetector(config)
    results = [detector.update(f, ts_ms(i, FLAME_FPS)) for i, f in enumerate(video_frames(flame_video(), 40))]
    assert all(r.fire == () and r.smoke == () for r in results)


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"typo": 1}, "Extra inputs"),
        ({"type": "fire"}, "fire_smoke"),
        ({"fire": {"persist_frames": 9, "persist_window_frames": 8}}, "persist_frames must be <="),
        ({"smoke": {"chroma_max": 300}}, "less than or equal to 255"),
        ({"fire": {"flicker_window_frames": 2}}, "greater than or equal to 3"),
    ],
)
def test_config_errors_name_the_key(config: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        FireSmokeConfig.model_validate(config)


@pytest.mark.parametrize(
    "frame",
    [np.zeros((48, 64), np.uint8), np.zeros((48, 64, 3), np.float32), np.zeros((48, 64, 4), np.uint8)],
)
def test_rejects_frames_that_are_not_bgr_uint8(frame: np.ndarray[Any, Any]) -> None:
    with pytest.raises(ValueError, match="uint8 BGR"):
        FireSmokeDetector(FireSmokeConfig()).update(frame, 0)


def test_frame_size_change_restarts_learning() -> None:
    detector = FireSmokeDetector(FireSmokeConfig())
    assert detector.update(np.zeros((120, 160, 3), np.uint8), 0).learning
    assert detector.update(np.zeros((120, 160, 3), np.uint8), 5000).learning is False
    assert detector.update(np.zeros((240, 320, 3), np.uint8), 5100).learning  # a new size: learning again
