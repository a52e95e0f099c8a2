"""Cameras and worker health over the real broker deploy/local/start runs: the registry on the cameras
topic, workers' feeds sharing the cameras through a consumer group, heartbeats and the health view.
Each test uses topics (and groups) of its own."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from events.bus.kafka_bus import ensure_topics
from events.bus.kafka_cameras import (
    KafkaCameraFeed,
    KafkaCameraRegistry,
    KafkaHealthView,
    KafkaHeartbeatPublisher,
    KafkaRegistryError,
)
from events.cameras import CameraChange, CameraHealth, CameraStatus, WorkerHeartbeat
from events.ports import BusError
from tests.integration.conftest import LocalServers

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning"),
]

logger = logging.getLogger(__name__)

PARTITIONS = 6


@dataclass(frozen=True)
class Topics:
    bootstrap: str
    cameras: str
    health: str
    group: str


def _delete_topics(bootstrap: str, names: list[str]) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        if [n for n in names if n in existing]:
            admin.delete_topics([n for n in names if n in existing], raise_errors=False)
    finally:
        admin.close()


@pytest.fixture(scope="module")
def created_topics(local_servers: LocalServers) -> Iterator[list[str]]:
    """Every topic this module made; swept once more at the end, because a client's last metadata
    request may reach the broker just after a test's delete and auto-create the topic again."""
    names: list[str] = []
    yield names
    time.sleep(0.5)
    _delete_topics(local_servers.kafka_bootstrap, names)


@pytest.fixture
def topics(local_servers: LocalServers, created_topics: list[str]) -> Iterator[Topics]:
    """A fresh cameras (compacted) and health topic, 6 partitions each, and a group for one test."""
    tag = uuid.uuid4().hex[:10]
    t = Topics(
        local_servers.kafka_bootstrap, f"anfang.test-{tag}.cameras", f"anfang.test-{tag}.health", f"g-{tag}"
    )
    ensure_topics(t.bootstrap, partitions=PARTITIONS, topics=(t.cameras, t.health), compacted=(t.cameras,))
    created_topics.extend([t.cameras, t.health])
    yield t
    _delete_topics(t.bootstrap, [t.cameras, t.health])


@pytest.fixture
def registry(topics: Topics) -> Iterator[KafkaCameraRegistry]:
    reg = KafkaCameraRegistry(topics.bootstrap, topics.cameras)
    yield reg
    reg.close()


def cam(camera_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": camera_id, "uri": f"rtsp://10.0.0.1/{camera_id}", **extra}


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds it took for `condition` to hold; fails the test after `timeout_s`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.05)
    return time.monotonic() - started


class Worker:
    """Polls a feed on its own thread every 0.2 s, as a pipeline worker would, keeping what it runs."""

    def __init__(self, feed: KafkaCameraFeed) -> None:
        self.feed = feed
        self.lock = threading.Lock()
        self.running: dict[str, dict[str, Any]] = {}
        self.changes: list[CameraChange] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for change in self.feed.poll(0.2):
                    with self.lock:
                        self.changes.append(change)
                        if change.spec is None:
                            assert change.camera_id in self.running, f"removal of {change.camera_id} not run"
                            del self.running[change.camera_id]
                        else:
                            self.running[change.camera_id] = change.spec
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self.feed.close()

    def cameras(self) -> set[str]:
        with self.lock:
            return set(self.running)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        assert not self._thread.is_alive() and self.errors == []


def test_registry_changes_are_read_back_at_once_and_by_a_second_registry(
    topics: Topics, registry: KafkaCameraRegistry
) -> None:
    assert registry.list() == []
    registry.put(cam("b"))
    registry.put(cam("a"))
    registry.put(cam("c"))
    assert registry.put(cam("a", analysis_fps=5)).version == 2
    assert registry.put(cam("a", analysis_fps=5)).version == 2  # identical: nothing written
    assert registry.delete("c") is True
    assert registry.delete("c") is False
    assert [(r.camera_id, r.version) for r in registry.list()] == [("a", 2), ("b", 1)]  # read-your-writes

    other = KafkaCameraRegistry(topics.bootstrap, topics.cameras)
    try:
        assert [(r.camera_id, r.version, r.spec) for r in other.list()] == [
            ("a", 2, cam("a", analysis_fps=5)),
            ("b", 1, cam("b")),
        ]
        registry.put(cam("d"))
        registry.delete("b")
        wait_until(
            lambda: [r.camera_id for r in other.list()] == ["a", "d"], 5, "second registry sees d, not b"
        )
        assert other.put(cam("d", analysis_fps=1)).version == 2
        wait_until(lambda: getattr(registry.get("d"), "version", 0) == 2, 5, "first registry sees d v2")
    finally:
        other.close()


def test_a_registry_on_a_missing_topic_names_it(local_servers: LocalServers) -> None:
    topic = f"anfang.test-{uuid.uuid4().hex[:10]}.missing"
    with pytest.raises(KafkaRegistryError, match=f"has no topic {topic}") as info:
        KafkaCameraRegistry(local_servers.kafka_bootstrap, topic, timeout_s=5)
    assert isinstance(info.value, BusError)


def test_a_feed_replays_the_net_state_then_follows_changes(
    topics: Topics, registry: KafkaCameraRegistry
) -> None:
    registry.put(cam("a"))
    registry.put(cam("b"))
    registry.put(cam("gone"))
    registry.delete("gone")  # put then deleted before the worker started: never started
    registry.put(cam("a", analysis_fps=2))
    worker = Worker(KafkaCameraFeed(topics.bootstrap, topics.group, topics.cameras))
    try:
        wait_until(lambda: worker.cameras() == {"a", "b"}, 10, "feed replays a and b")
        time.sleep(0.5)
        with worker.lock:
            assert sorted(worker.changes, key=lambda c: c.camera_id) == [
                CameraChange("a", cam("a", analysis_fps=2)),
                CameraChange("b", cam("b")),
            ]
            worker.changes.clear()
        registry.delete("b")
        registry.put(cam("c"))
        registry.put(cam("a", analysis_fps=2))  # identical: nothing
        registry.put(cam("a", analysis_fps=3))
        wait_until(lambda: worker.cameras() == {"a", "c"}, 5, "feed sees the tombstone and c")
        wait_until(lambda: worker.running.get("a") == cam("a", analysis_fps=3), 5, "feed sees a's new spec")
        with worker.lock:
            assert worker.changes == [
                CameraChange("b", None),
                CameraChange("c", cam("c")),
                CameraChange("a", cam("a", analysis_fps=3)),
            ] or sorted(worker.changes, key=lambda c: c.camera_id) == [  # keys in different partitions
                CameraChange("a", cam("a", analysis_fps=3)),
                CameraChange("b", None),
                CameraChange("c", cam("c")),
            ]
    finally:
        worker.stop()


def test_two_workers_share_the_cameras_and_one_takes_all_when_the_other_leaves(
    topics: Topics, registry: KafkaCameraRegistry
) -> None:
    everything = {f"cam-{i:02d}" for i in range(24)}
    for camera_id in sorted(everything):
        registry.put(cam(camera_id))
    first = Worker(KafkaCameraFeed(topics.bootstrap, topics.group, topics.cameras, client_id="w1"))
    second: Worker | None = None
    try:
        wait_until(lambda: first.cameras() == everything, 10, "a lone worker runs every camera")
        joined = Worker(KafkaCameraFeed(topics.bootstrap, topics.group, topics.cameras, client_id="w2"))
        second = joined
        workers = (first, joined)
        shared_s = wait_until(
            lambda: (
                all(w.cameras() for w in workers)
                and first.cameras() | joined.cameras() == everything
                and not first.cameras() & joined.cameras()
            ),
            10,
            "two workers share the cameras, each camera with one of them",
        )
        time.sleep(1.0)  # and it stays that way
        assert first.cameras() | joined.cameras() == everything
        assert not first.cameras() & joined.cameras()
        assert first.cameras() == set(first.feed.cameras) and joined.cameras() == set(joined.feed.cameras)
        with first.lock:  # the first worker only ever stopped cameras, never restarted the ones it kept
            puts = [c.camera_id for c in first.changes if c.spec is not None]
        assert sorted(puts) == sorted(everything)

        joined.stop()  # a clean close leaves the group at once
        second = None
        takeover_s = wait_until(lambda: first.cameras() == everything, 10, "the remaining worker takes all")
        logger.info("shared after %.1f s, taken over after %.1f s", shared_s, takeover_s)
    finally:
        first.stop()
        if second is not None:
            second.stop()


CRASHING_WORKER = """
import sys
from events.bus.kafka_cameras import KafkaCameraFeed
feed = KafkaCameraFeed(sys.argv[1], sys.argv[2], sys.argv[3], client_id="doomed", session_timeout_s=6)
while True:
    feed.poll(0.2)
"""


def test_the_cameras_of_a_worker_that_dies_move_within_the_session_timeout(
    topics: Topics, registry: KafkaCameraRegistry, tmp_path: Path
) -> None:
    everything = {f"cam-{i:02d}" for i in range(12)}
    for camera_id in sorted(everything):
        registry.put(cam(camera_id))
    survivor = Worker(KafkaCameraFeed(topics.bootstrap, topics.group, topics.cameras, client_id="w1"))
    log = tmp_path / "doomed.log"
    doomed: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: survivor.cameras() == everything, 10, "a lone worker runs every camera")
        with log.open("wb") as out:
            doomed = subprocess.Popen(
                [sys.executable, "-c", CRASHING_WORKER, topics.bootstrap, topics.group, topics.cameras],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(
            lambda: 0 < len(survivor.cameras()) < len(everything) or doomed.poll() is not None,
            10,
            "a second worker (a process) takes some cameras",
        )
        assert doomed.poll() is None, log.read_text()
        doomed.send_signal(signal.SIGKILL)  # no goodbye: the group notices when its session expires
        doomed.wait()
        takeover_s = wait_until(lambda: survivor.cameras() == everything, 12, "the survivor takes all")
        logger.info("taken over %.1f s after the kill", takeover_s)
    finally:
        if doomed is not None and doomed.poll() is None:
            doomed.kill()
            doomed.wait()
        survivor.stop()


def test_heartbeats_reach_the_health_view(topics: Topics) -> None:
    publisher = KafkaHeartbeatPublisher(topics.bootstrap, topics.health)
    now_ms = int(time.time() * 1000)
    try:
        publisher.publish(
            WorkerHeartbeat(
                worker_id="w1",
                ts_ms=now_ms,
                cameras=[CameraHealth(camera_id="a", status=CameraStatus.ONLINE, analysed_fps=9.8)],
            )
        )
        view = KafkaHealthView(topics.bootstrap, topics.health, stale_after_s=10)
        try:
            wait_until(lambda: "a" in view.latest(), 5, "the view reads the heartbeat sent before it started")
            assert view.latest()["a"].status == CameraStatus.ONLINE
            assert (view.latest()["a"].worker_id, view.latest()["a"].analysed_fps) == ("w1", 9.8)
            publisher.publish(
                WorkerHeartbeat(
                    worker_id="w2",
                    ts_ms=now_ms - 60_000,  # a worker last heard from a minute ago
                    cameras=[CameraHealth(camera_id="b", status=CameraStatus.ONLINE)],
                )
            )
            publisher.publish(WorkerHeartbeat(worker_id="w1", ts_ms=now_ms + 1, cameras=[]))
            wait_until(lambda: sorted(view.latest()) == ["b"], 5, "w1 dropped a, w2 reported b")
            b = view.latest()["b"]
            assert b.status == CameraStatus.OFFLINE and b.worker_id == "w2"
            assert b.detail is not None and b.detail.startswith("worker w2 silent for 6")
            assert sorted(view.workers()) == ["w1", "w2"]
        finally:
            view.close()
    finally:
        publisher.close()
