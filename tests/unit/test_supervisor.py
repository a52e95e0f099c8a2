"""The camera supervisor's logic on scripted sources: states, health events, backoff, fairness, changes.

The real GStreamer/RTSP behaviour is proven in tests/integration/test_cameras_live.py; here sources are
scripted so every transition is exact and fast.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import supervision as sv

from detectors.base import FrameBGR, ModelInfo
from events.cameras import CameraChange, CameraStatus, OfflineCause, WorkerHeartbeat
from events.schema import Event
from pipelines.camera_runner import Backoff, SupervisorConfig
from pipelines.config import CameraConfig, TrackerConfig
from pipelines.gating import MotionGateConfig
from pipelines.inference import SharedInference
from pipelines.sources import Frame, Source, SourceError, SourceOptions
from pipelines.supervisor import CameraSupervisor

NO_GATE = MotionGateConfig(enabled=False)
FAST = SupervisorConfig(backoff_initial_s=0.05, backoff_max_s=0.2, stall_s=1.0, frame_queue_max=2)


class StubDetector:
    model = ModelInfo("stub", "1")
    class_names = {0: "person"}

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: list[int] = []

    def detect(self, frame_bgr: FrameBGR) -> sv.Detections:
        self.calls.append(int(frame_bgr[0, 0, 0]))
        if self.delay_s:
            time.sleep(self.delay_s)
        return sv.Detections.empty()

    def detect_batch(self, frames_bgr: Sequence[FrameBGR]) -> list[sv.Detections]:
        return [self.detect(f) for f in frames_bgr]


class Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def publish(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def flush(self, timeout_s: float = 0) -> None: ...

    def close(self) -> None: ...

    def of(self, camera_id: str, kind: str) -> list[Event]:
        with self.lock:
            return [e for e in self.events if e.camera_id == camera_id and e.type == kind]


@dataclass
class ScriptedSource:
    """Yields `frames` frames (pixel value = camera tag), then ends (file) or raises `error` (live)."""

    tag: int
    frames: int
    live: bool
    error: SourceError | None = None
    period_s: float = 0.0
    resolution_wh: tuple[int, int] = (64, 48)
    fps: float | None = 10.0
    frames_decoded: int = 0
    frames_dropped: int = 0
    stopped: bool = False

    @property
    def duration_ms(self) -> int | None:
        return None if self.live else self.frames * 100

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        if self.stopped:
            raise StopIteration
        if self.frames_decoded >= self.frames:
            if self.error is not None:
                raise self.error
            raise StopIteration
        if self.period_s:
            time.sleep(self.period_s)
        i = self.frames_decoded
        self.frames_decoded += 1
        image = np.full((48, 64, 3), self.tag, dtype=np.uint8)
        return Frame(image_bgr=image, pts_ms=i * 100, index=i)

    def request_stop(self) -> None:
        self.stopped = True

    def close(self) -> None: ...


@dataclass
class Script:
    """Per URI, what each successive open does: a source, or a SourceError."""

    plans: dict[str, list[Callable[[], Source]]] = field(default_factory=dict)
    opens: dict[str, int] = field(default_factory=dict)

    def __call__(self, uri: str, options: SourceOptions) -> Source:
        n = self.opens.get(uri, 0)
        self.opens[uri] = n + 1
        plan = self.plans[uri]
        return plan[min(n, len(plan) - 1)]()


def fail(cause: OfflineCause, text: str = "boom") -> Callable[[], Source]:
    def raise_it() -> Source:
        raise SourceError(text, cause)

    return raise_it


def make(
    script: Script, detector: StubDetector | None = None, config: SupervisorConfig = FAST
) -> tuple[CameraSupervisor, Collector]:
    collector = Collector()
    supervisor = CameraSupervisor(
        inference=SharedInference(detector or StubDetector(), idle_wait_s=0.05),
        tracker_config=TrackerConfig(),
        publisher=collector,
        snapshots=None,
        site_id="site",
        worker_id="w1",
        config=config,
        open_fn=script,
    )
    supervisor.inference.start()
    return supervisor, collector


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def status(supervisor: CameraSupervisor, camera_id: str) -> CameraStatus:
    return next(h.status for h in supervisor.health() if h.camera_id == camera_id)


def shutdown(supervisor: CameraSupervisor) -> None:
    supervisor.close()
    supervisor.inference.stop()


def test_a_file_is_analysed_completely_then_finished() -> None:
    script = Script({"a.avi": [lambda: ScriptedSource(tag=1, frames=25, live=False)]})
    supervisor, events = make(script)
    supervisor.add(CameraConfig(id="a", uri="a.avi"))
    wait_for(supervisor.all_done)
    assert status(supervisor, "a") == CameraStatus.FINISHED
    assert supervisor.stats()[0].frames == 25  # a file never drops, even with a queue of 2
    online = events.of("a", "camera_online")
    assert len(online) == 1 and online[0].attributes.downtime_s is None  # type: ignore[attr-defined]
    assert events.of("a", "camera_offline") == []
    shutdown(supervisor)


def test_a_missing_file_is_offline_with_its_cause_and_not_retried() -> None:
    script = Script({"gone.avi": [fail(OfflineCause.NOT_FOUND, "video not found: gone.avi")]})
    supervisor, events = make(script)
    supervisor.add(CameraConfig(id="g", uri="gone.avi"))
    wait_for(supervisor.all_done)
    (offline,) = events.of("g", "camera_offline")
    assert offline.attributes.cause == "not_found" and offline.alert  # type: ignore[attr-defined]
    assert offline.severity.value == "high"
    assert supervisor.errors() == {"g": "video not found: gone.avi"}
    time.sleep(0.3)
    assert script.opens["gone.avi"] == 1
    shutdown(supervisor)


def test_a_live_camera_goes_offline_once_per_outage_retries_and_reports_downtime() -> None:
    uri = "rtsp://cam/1"
    script = Script(
        {
            uri: [
                lambda: ScriptedSource(2, 5, True, SourceError("stream ended", OfflineCause.STREAM_ENDED)),
                fail(OfflineCause.UNREACHABLE, "refused"),
                fail(OfflineCause.UNREACHABLE, "refused"),
                lambda: ScriptedSource(2, 10_000, True, period_s=0.01),
            ]
        }
    )
    supervisor, events = make(script)
    supervisor.add(CameraConfig(id="c", uri=uri))
    wait_for(lambda: len(events.of("c", "camera_online")) == 2)
    (offline,) = events.of("c", "camera_offline")  # three failures in a row: one event
    assert offline.attributes.cause == "stream_ended"  # type: ignore[attr-defined]
    assert offline.attributes.last_frame_ts_ms is not None  # type: ignore[attr-defined]
    back = events.of("c", "camera_online")[1]
    assert back.attributes.downtime_s is not None and back.attributes.downtime_s > 0  # type: ignore[attr-defined]
    assert back.ts_ms >= offline.ts_ms and not back.alert
    health = next(h for h in supervisor.health() if h.camera_id == "c")
    assert (health.status, health.reconnects, health.cause) == (CameraStatus.ONLINE, 1, None)
    assert script.opens[uri] == 4
    shutdown(supervisor)


def test_removing_a_camera_stops_its_analysis_without_an_offline_event() -> None:
    uri = "rtsp://cam/2"
    script = Script({uri: [lambda: ScriptedSource(3, 10_000, True, period_s=0.01)]})
    detector = StubDetector()
    supervisor, events = make(script, detector)
    supervisor.add(CameraConfig(id="r", uri=uri, motion=NO_GATE))
    wait_for(lambda: len(detector.calls) > 5)
    assert supervisor.remove("r")
    seen = len(detector.calls)
    time.sleep(0.3)
    assert len(detector.calls) <= seen + 1  # at most the frame in flight
    assert events.of("r", "camera_offline") == []
    assert supervisor.health() == [] and not supervisor.remove("r")
    shutdown(supervisor)


def test_the_shared_detector_serves_cameras_round_robin_and_live_cameras_drop_oldest() -> None:
    """A slow detector and three live cameras flooding frames: each gets a fair share; drops are counted."""

    def flood(tag: int) -> Callable[[], Source]:
        return lambda: ScriptedSource(tag, 10_000, True, period_s=0.002)

    script = Script({f"rtsp://cam/{i}": [flood(10 + i)] for i in range(3)})
    detector = StubDetector(delay_s=0.01)
    supervisor, _ = make(script, detector)
    for i in range(3):
        supervisor.add(CameraConfig(id=f"c{i}", uri=f"rtsp://cam/{i}", motion=NO_GATE))
    wait_for(lambda: len(detector.calls) >= 90, timeout_s=10)
    shutdown(supervisor)
    counts = [detector.calls.count(10 + i) for i in range(3)]
    assert min(counts) / max(counts) >= 0.9, counts
    health = supervisor.removed_stats  # closed cameras keep their stats
    assert health == [] or all(h.frames > 0 for h in health)
    runners = [supervisor._slots[f"c{i}"].runner for i in range(3)]
    dropped = [r.queue.frames_dropped for r in runners if r is not None]
    assert all(d > 0 for d in dropped), dropped


def test_zone_changes_apply_in_place_and_uri_changes_reconnect() -> None:
    script = Script(
        {
            "rtsp://a/1": [lambda: ScriptedSource(4, 10_000, True, period_s=0.01)],
            "rtsp://a/2": [lambda: ScriptedSource(5, 10_000, True, period_s=0.01)],
        }
    )
    detector = StubDetector()
    supervisor, events = make(script, detector)
    base: dict[str, Any] = {"id": "z", "uri": "rtsp://a/1", "motion": {"enabled": False}}
    supervisor.apply(CameraChange("z", base))
    wait_for(lambda: 4 in detector.calls)
    zone = {"id": "all", "polygon_xy": [[0, 0], [1, 0], [1, 1]]}
    rule = {"id": "r1", "type": "zone_intrusion", "zone": "all"}
    supervisor.apply(CameraChange("z", {**base, "zones": [zone], "rules": [rule]}))
    time.sleep(0.2)
    assert script.opens["rtsp://a/1"] == 1  # same stream: no reconnect
    assert supervisor._slots["z"].camera.rules[0].id == "r1"
    supervisor.apply(CameraChange("z", {**base, "uri": "rtsp://a/2"}))
    wait_for(lambda: 5 in detector.calls)
    assert len(events.of("z", "camera_online")) == 2
    supervisor.apply(CameraChange("z", {"id": "z", "uri": "ftp://x"}))  # invalid: logged, ignored
    assert supervisor._slots["z"].camera.uri == "rtsp://a/2"
    supervisor.apply(CameraChange("z", None))
    assert supervisor.camera_ids() == []
    shutdown(supervisor)


def test_run_applies_the_feed_publishes_heartbeats_and_exits_when_done() -> None:
    script = Script({"f.avi": [lambda: ScriptedSource(6, 8, False)]})
    supervisor, _ = make(script)

    class Feed:
        def __init__(self) -> None:
            self.sent = False

        def poll(self, timeout_s: float) -> list[CameraChange]:
            time.sleep(min(timeout_s, 0.02))
            if self.sent:
                return []
            self.sent = True
            return [CameraChange("f", {"id": "f", "uri": "f.avi"})]

        def close(self) -> None: ...

    beats: list[WorkerHeartbeat] = []

    class Beats:
        def publish(self, heartbeat: WorkerHeartbeat) -> None:
            beats.append(heartbeat)

        def close(self) -> None: ...

    stop = threading.Event()
    cfg = FAST.model_copy(update={"heartbeat_every_s": 0.05, "feed_poll_s": 0.02})
    supervisor.config = cfg
    supervisor.run(stop, feed=Feed(), heartbeats=Beats(), exit_when_done=True)
    assert supervisor.stats()[0].frames == 8
    assert beats and beats[-1].cameras[0].status == CameraStatus.FINISHED
    assert beats[-1].worker_id == "w1"
    shutdown(supervisor)


@pytest.mark.parametrize(
    ("initial_s", "max_s", "jitter", "expected"),
    [
        (0.5, 10.0, 0.0, [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]),
        (1.0, 3.0, 0.0, [1.0, 2.0, 3.0, 3.0]),
    ],
)
def test_backoff_doubles_up_to_its_cap(
    initial_s: float, max_s: float, jitter: float, expected: list[float]
) -> None:
    backoff = Backoff(initial_s, max_s, jitter, random.Random(1))
    assert [backoff.next_s() for _ in expected] == expected
    backoff.reset()
    assert backoff.next_s() == initial_s


def test_backoff_jitter_stays_within_its_share() -> None:
    backoff = Backoff(1.0, 1.0, 0.25, random.Random(7))
    waits = [backoff.next_s() for _ in range(200)]
    assert 0.75 <= min(waits) < 0.85 and 1.15 < max(waits) <= 1.25
