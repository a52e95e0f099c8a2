"""What the recognition tests through the camera worker (faces, plates and codes) share: a worker
running rules with the recognisers given, publishing to a `Collect`."""

from __future__ import annotations

from collections.abc import Mapping

from detectors.base import ModelInfo
from pipelines.analytics.spec import RuleBase
from pipelines.config import CameraConfig, TrackerConfig
from pipelines.emit import EmitContext
from pipelines.evidence import SnapshotWriter
from pipelines.recognition.stage import RecognizerFactory
from pipelines.worker import CameraWorker
from tests.unit.publishers import Collect


def camera_worker(
    camera_id: str,
    rules: list[RuleBase],
    out: Collect,
    recognizers: Mapping[str, RecognizerFactory],
    snapshots: SnapshotWriter | None = None,
) -> CameraWorker:
    """The worker of camera `camera_id` (site "site", worker "w1") running `rules`, publishing to `out`."""
    camera = CameraConfig.model_validate(
        {"id": camera_id, "uri": f"{camera_id}.avi", "rules": [r.model_dump() for r in rules]}
    )
    ctx = EmitContext(camera_id, "site", "w1", ModelInfo("m", "1"), {r.id: r for r in camera.rules})
    return CameraWorker(camera, ctx, TrackerConfig(), out, snapshots, recognizers=recognizers)
