"""Live cameras that stay up, on real parts: 4 RTSP cameras (GstRtspServer processes, H.264) and a file
in one worker with the real people detector. Kill one server, hang another (SIGSTOP): offline events
with their causes in time, the other cameras keep their analysed FPS, and both come back online."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from detectors.onnx_yolo import OnnxYoloConfig
from detectors.registry import build_detector
from events.cameras import CameraStatus
from events.schema import Event
from pipelines.camera_runner import SupervisorConfig
from pipelines.config import CameraConfig, TrackerConfig
from pipelines.inference import SharedInference
from pipelines.supervisor import CameraSupervisor
from tests.rtsp_fixtures import VTEST, RtspCamera
from tests.unit.detector_assets import ONNX_MODEL, data_dir, require_model

pytestmark = [pytest.mark.slow]

T = TypeVar("T")
LIVE_FPS = 2.0
WINDOW_S = 8.0


class Collector:
    def __init__(self) -> None:
        self.events: list[tuple[float, Event]] = []
        self._lock = threading.Lock()

    def publish(self, event: Event) -> None:
        with self._lock:
            self.events.append((time.monotonic(), event))

    def flush(self, timeout_s: float = 0) -> None: ...

    def close(self) -> None: ...

    def first(self, camera_id: str, kind: str, after: float) -> tuple[float, Any] | None:
        with self._lock:
            return next(
                (
                    (t, e)
                    for t, e in self.events
                    if e.camera_id == camera_id and e.type == kind and t >= after
                ),
                None,
            )


def wait_for(predicate: Callable[[], T | None], timeout_s: float) -> T:
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"not within {timeout_s} s"
        time.sleep(0.05)
    return value


@pytest.fixture
def cameras() -> Iterator[list[RtspCamera]]:
    servers = [RtspCamera(mount=f"/cam{i}") for i in range(4)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.kill()


def test_four_rtsp_cameras_and_a_file_survive_a_killed_and_a_hung_server(cameras: list[RtspCamera]) -> None:
    detector = build_detector(
        OnnxYoloConfig(model_path=require_model(ONNX_MODEL), class_names={0: "person", 1: "person_down"}),
        data_dir(),
    )
    events = Collector()
    supervisor = CameraSupervisor(
        inference=SharedInference(detector),
        tracker_config=TrackerConfig(),
        publisher=events,
        snapshots=None,
        site_id="test",
        worker_id="w1",
        config=SupervisorConfig(stall_s=5.0, backoff_initial_s=0.5, backoff_max_s=2.0),
    )
    supervisor.inference.start()
    ids = [f"rtsp{i}" for i in range(4)]
    try:
        for cam_id, server in zip(ids, cameras, strict=True):
            supervisor.add(CameraConfig(id=cam_id, uri=server.uri, analysis_fps=LIVE_FPS))
        supervisor.add(CameraConfig(id="file", uri=str(VTEST), analysis_fps=LIVE_FPS))

        def analysed() -> dict[str, int]:
            return {h.camera_id: h.frames_analysed for h in supervisor.health()}

        def rates(camera_ids: list[str]) -> dict[str, float]:
            before = analysed()
            time.sleep(WINDOW_S)
            after = analysed()
            return {c: (after[c] - before[c]) / WINDOW_S for c in camera_ids}

        wait_for(lambda: all(s == CameraStatus.ONLINE for s in _statuses(supervisor, ids)) or None, 30)
        others = ids[1:]
        baseline = rates(others)
        assert all(r > 0.5 for r in baseline.values()), baseline

        # 1. kill a server: offline <= 5 s, the other cameras keep their FPS (within 10 %)
        killed_at = time.monotonic()
        cameras[0].kill()
        t_off, offline = wait_for(lambda: events.first("rtsp0", "camera_offline", killed_at), 10)
        assert t_off - killed_at <= 5.0
        assert offline.attributes.cause in ("stream_ended", "unreachable")
        assert offline.alert and offline.attributes.last_frame_ts_ms is not None
        during = rates(others)
        for cam_id in others:
            assert during[cam_id] >= 0.9 * baseline[cam_id], (cam_id, baseline, during)

        # 2. restart it: camera_online with the downtime, analysis resumes
        restarted_at = time.monotonic()
        cameras[0].start()
        _, online = wait_for(lambda: events.first("rtsp0", "camera_online", restarted_at), 15)
        assert online.attributes.downtime_s >= restarted_at - killed_at - 1
        resumed_from = analysed()["rtsp0"]
        wait_for(lambda: analysed()["rtsp0"] > resumed_from + 2 or None, 10)

        # 3. hang a server (SIGSTOP): offline <= 10 s as stalled; SIGCONT: back online
        hung_at = time.monotonic()
        cameras[1].hang()
        t_stall, stalled = wait_for(lambda: events.first("rtsp1", "camera_offline", hung_at), 15)
        assert t_stall - hung_at <= 10.0
        assert stalled.attributes.cause == "stalled"
        resumed_at = time.monotonic()
        cameras[1].resume()
        _, back = wait_for(lambda: events.first("rtsp1", "camera_online", resumed_at), 20)
        assert back.attributes.downtime_s > 0
        health = {h.camera_id: h for h in supervisor.health()}
        assert health["rtsp0"].reconnects == 1 and health["rtsp1"].reconnects == 1
        assert health["file"].status in (CameraStatus.ONLINE, CameraStatus.FINISHED)
        assert health["file"].frames_dropped == 0  # a file never drops
    finally:
        supervisor.close()
        supervisor.inference.stop()


def _statuses(supervisor: CameraSupervisor, ids: list[str]) -> list[CameraStatus]:
    by_id = {h.camera_id: h.status for h in supervisor.health()}
    return [by_id.get(i, CameraStatus.STARTING) for i in ids]
