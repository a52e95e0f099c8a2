"""Progress figures shown while a file is analysed: fraction done and time left."""

from __future__ import annotations

import pytest

from pipelines.worker import CameraStats


@pytest.mark.parametrize(
    ("position_ms", "duration_ms", "wall_s", "done", "eta_s"),
    [
        (20_000, 80_000, 10.0, 0.25, 30.0),
        (80_000, 80_000, 40.0, 1.0, 0.0),
        (90_000, 80_000, 40.0, 1.0, 0.0),  # pts past the container's duration never exceeds 100 %
        (0, 80_000, 1.0, 0.0, None),
        (5_000, None, 1.0, None, None),  # live stream: no duration, no ETA
    ],
)
def test_progress(
    position_ms: int, duration_ms: int | None, wall_s: float, done: float | None, eta_s: float | None
) -> None:
    stats = CameraStats(camera_id="c", position_ms=position_ms, duration_ms=duration_ms, wall_s=wall_s)
    assert stats.done_fraction == done
    assert stats.eta_s == eta_s
