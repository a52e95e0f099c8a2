"""The embedded camera registry (a JSON file + in-process feeds), the in-process health view, and the
Kafka camera clients' answer when no broker is there."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from events.bus.kafka_cameras import (
    KafkaCameraFeed,
    KafkaCameraRegistry,
    KafkaHealthView,
    KafkaHeartbeatPublisher,
)
from events.cameras import (
    CameraChange,
    CameraHealth,
    CameraSpecError,
    CameraStatus,
    RegistryError,
    WorkerHeartbeat,
)
from events.ports import BusError
from events.registry.file_registry import FileCameraRegistry
from events.registry.inproc_health import InProcessHealth

# kafka-python 3 loads its protocol schemas with a deprecated importlib.resources call.
pytestmark = pytest.mark.filterwarnings("ignore:(read|open)_text is deprecated:DeprecationWarning")


def cam(camera_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": camera_id, "uri": f"rtsp://user:pw@10.0.0.1/{camera_id}", **extra}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "cameras.json"


# -- FileCameraRegistry ---------------------------------------------------------------------------


def test_put_get_list_delete(path: Path) -> None:
    reg = FileCameraRegistry(path)
    assert reg.list() == [] and not path.exists()
    b = reg.put(cam("b"))
    a = reg.put(cam("a", zones=[{"id": "z", "polygon": [[0, 0], [1, 0], [1, 1]]}]))
    assert [r.camera_id for r in reg.list()] == ["a", "b"]
    assert reg.get("a") == a and reg.get("b") == b and reg.get("nope") is None
    assert a.spec["zones"][0]["id"] == "z" and a.version == 1
    assert abs(a.updated_ts_ms - time.time() * 1000) < 5000
    assert reg.delete("a") is True
    assert reg.delete("a") is False
    assert [r.camera_id for r in reg.list()] == ["b"] and reg.get("a") is None


def test_versions_count_changes_and_an_identical_put_changes_nothing(path: Path) -> None:
    reg = FileCameraRegistry(path)
    assert reg.put(cam("a")).version == 1
    assert reg.put(cam("a", analysis_fps=5)).version == 2
    again = reg.put(cam("a", analysis_fps=5))
    assert again.version == 2 and again == reg.get("a")
    assert reg.put(cam("a", analysis_fps=6)).version == 3


def test_the_registry_keeps_its_own_copy_of_the_spec(path: Path) -> None:
    reg = FileCameraRegistry(path)
    spec = cam("a", zones=[{"id": "z"}])
    reg.put(spec)
    spec["zones"].append({"id": "y"})
    spec["uri"] = "file:///other.avi"
    record = reg.get("a")
    assert record is not None
    assert record.spec == cam("a", zones=[{"id": "z"}])


def test_a_spec_without_an_id_is_refused_naming_the_field(path: Path) -> None:
    reg = FileCameraRegistry(path)
    for bad in ({"uri": "file:///x.avi"}, {"id": "", "uri": "x"}, {"id": 3, "uri": "x"}):
        with pytest.raises(CameraSpecError) as info:
            reg.put(bad)
        assert info.value.errors[0]["loc"] == ("body", "id")
    assert reg.list() == []


def test_cameras_survive_a_restart_and_the_file_is_written_atomically(path: Path) -> None:
    reg = FileCameraRegistry(path)
    reg.put(cam("a"))
    reg.put(cam("b"))
    reg.put(cam("a", analysis_fps=2))
    reg.delete("b")
    reg.close()
    again = FileCameraRegistry(path)
    assert [(r.camera_id, r.version, r.spec) for r in again.list()] == [("a", 2, cam("a", analysis_fps=2))]
    doc = json.loads(path.read_text())
    assert doc["format"] == 1 and [c["camera_id"] for c in doc["cameras"]] == ["a"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["cameras.json"]  # no temporary file left


def test_a_closed_registry_refuses_changes(path: Path) -> None:
    reg = FileCameraRegistry(path)
    reg.put(cam("a"))
    reg.close()
    with pytest.raises(RegistryError, match="closed"):
        reg.put(cam("b"))
    with pytest.raises(RegistryError, match="closed"):
        reg.delete("a")


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        ("{not json", "Expecting property name"),
        ('{"format": 1, "cameras": {}}', '"cameras" is not a list'),
        ('[{"camera_id": "a"}]', '"format": 1'),
        ('{"format": 1, "cameras": [{"camera_id": "a", "spec": {}}]}', "version"),
        (
            '{"format": 1, "cameras": [{"camera_id": "a", "spec": {}, "version": 1, "updated_ts_ms": 0},'
            ' {"camera_id": "a", "spec": {}, "version": 2, "updated_ts_ms": 0}]}',
            "camera 'a' appears twice",
        ),
    ],
)
def test_a_corrupt_file_is_a_registry_error_and_is_left_alone(path: Path, content: str, cause: str) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(RegistryError) as info:
        FileCameraRegistry(path)
    message = str(info.value)
    assert str(path) in message and "corrupt" in message and cause in message
    assert "\n" not in message
    assert path.read_text() == content  # never silently emptied


def test_an_unreadable_file_is_a_registry_error(path: Path) -> None:
    path.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(RegistryError, match=f"^cannot read the camera registry {re.escape(str(path))}: "):
        FileCameraRegistry(path)


def test_a_failed_write_is_a_registry_error_and_changes_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    reg = FileCameraRegistry(blocker / "cameras.json")
    feed = reg.feed()
    blocker.write_text("")  # the data folder became a file: the registry cannot be written
    with pytest.raises(RegistryError, match=r"^cannot write the camera registry "):
        reg.put(cam("a"))
    assert reg.list() == [] and feed.poll(0) == []


def test_concurrent_puts_are_all_kept(path: Path) -> None:
    reg = FileCameraRegistry(path)
    threads = [
        threading.Thread(target=lambda i=i: [reg.put(cam(f"c{i}-{j}")) for j in range(10)]) for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reg.list()) == 40
    assert len(FileCameraRegistry(path).list()) == 40


def test_a_feed_starts_with_the_current_cameras_then_sees_every_change_in_order(path: Path) -> None:
    reg = FileCameraRegistry(path)
    reg.put(cam("b"))
    reg.put(cam("a"))
    feed = reg.feed()
    assert feed.poll(0) == [CameraChange("a", cam("a")), CameraChange("b", cam("b"))]
    assert feed.poll(0) == []
    reg.put(cam("c"))
    reg.put(cam("a", analysis_fps=3))
    reg.put(cam("a", analysis_fps=3))  # identical: nothing to restart
    reg.delete("b")
    reg.delete("b")
    assert feed.poll(0) == [
        CameraChange("c", cam("c")),
        CameraChange("a", cam("a", analysis_fps=3)),
        CameraChange("b", None),
    ]
    late = reg.feed()
    assert late.poll(0) == [CameraChange("a", cam("a", analysis_fps=3)), CameraChange("c", cam("c"))]


def test_a_waiting_poll_returns_as_soon_as_a_change_is_made(path: Path) -> None:
    reg = FileCameraRegistry(path)
    feed = reg.feed()
    timer = threading.Timer(0.2, lambda: reg.put(cam("a")))
    timer.start()
    started = time.monotonic()
    assert feed.poll(5.0) == [CameraChange("a", cam("a"))]
    assert time.monotonic() - started < 2.0
    timer.join()
    started = time.monotonic()
    assert feed.poll(0.3) == []
    assert time.monotonic() - started >= 0.29


def test_a_closed_feed_gets_nothing_more(path: Path) -> None:
    reg = FileCameraRegistry(path)
    feed = reg.feed()
    other = reg.feed()
    feed.close()
    reg.put(cam("a"))
    with pytest.raises(RegistryError, match="closed"):
        feed.poll(0)
    assert other.poll(0) == [CameraChange("a", cam("a"))]


def test_changes_handed_out_are_copies(path: Path) -> None:
    reg = FileCameraRegistry(path)
    reg.put(cam("a", zones=[]))
    (change,) = reg.feed().poll(0)
    assert change.spec is not None
    change.spec["zones"].append("mutated")
    record = reg.get("a")
    assert record is not None and record.spec["zones"] == []


# -- InProcessHealth ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def beat(worker_id: str, ts_ms: int, *cameras: tuple[str, CameraStatus]) -> WorkerHeartbeat:
    return WorkerHeartbeat(
        worker_id=worker_id,
        ts_ms=ts_ms,
        cameras=[CameraHealth(camera_id=c, status=s, analysed_fps=9.5) for c, s in cameras],
    )


def test_health_merges_the_cameras_of_every_worker() -> None:
    health = InProcessHealth(stale_after_s=10)
    health.publish(beat("w1", 1, ("a", CameraStatus.ONLINE), ("b", CameraStatus.RECONNECTING)))
    health.publish(beat("w2", 1, ("c", CameraStatus.STARTING)))
    latest = health.latest()
    assert {k: (v.status, v.worker_id) for k, v in latest.items()} == {
        "a": (CameraStatus.ONLINE, "w1"),
        "b": (CameraStatus.RECONNECTING, "w1"),
        "c": (CameraStatus.STARTING, "w2"),
    }
    assert latest["a"].analysed_fps == 9.5 and latest["a"].detail is None
    health.publish(beat("w1", 2, ("a", CameraStatus.OFFLINE)))  # b was removed from w1
    assert sorted(health.latest()) == ["a", "c"]
    assert health.latest()["a"].status == CameraStatus.OFFLINE
    health.publish(beat("w1", 1, ("a", CameraStatus.ONLINE)))  # late, older: ignored
    assert health.latest()["a"].status == CameraStatus.OFFLINE
    assert sorted(health.workers()) == ["w1", "w2"]


def test_the_cameras_of_a_silent_worker_are_offline() -> None:
    clock = FakeClock()
    health = InProcessHealth(stale_after_s=10, clock_s=clock)
    health.publish(beat("w1", 1, ("a", CameraStatus.ONLINE)))
    clock.now_s += 5
    health.publish(beat("w2", 1, ("b", CameraStatus.ONLINE)))
    clock.now_s += 6  # w1 silent for 11 s, w2 for 6 s
    latest = health.latest()
    assert latest["a"].status == CameraStatus.OFFLINE
    assert latest["a"].detail == "worker w1 silent for 11 s"
    assert latest["a"].worker_id == "w1"
    assert latest["b"].status == CameraStatus.ONLINE and latest["b"].detail is None
    health.publish(beat("w1", 2, ("a", CameraStatus.ONLINE)))  # back
    assert health.latest()["a"].status == CameraStatus.ONLINE


def test_a_camera_that_moved_takes_the_state_of_the_newest_heartbeat() -> None:
    clock = FakeClock()
    health = InProcessHealth(stale_after_s=10, clock_s=clock)
    health.publish(beat("w1", 1_000, ("a", CameraStatus.ONLINE)))
    clock.now_s += 20  # w1 died
    health.publish(beat("w2", 21_000, ("a", CameraStatus.STARTING)))
    assert (health.latest()["a"].status, health.latest()["a"].worker_id) == (CameraStatus.STARTING, "w2")


def test_health_refuses_a_non_positive_staleness() -> None:
    with pytest.raises(ValueError, match="stale_after_s"):
        InProcessHealth(stale_after_s=0)


# -- Kafka clients without a broker -------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


KAFKA_CLIENTS: dict[str, Callable[[str], object]] = {
    "registry": lambda b: KafkaCameraRegistry(b, timeout_s=1.0),
    "feed": lambda b: KafkaCameraFeed(b, "g", timeout_s=1.0),
    "heartbeats": lambda b: KafkaHeartbeatPublisher(b, timeout_s=1.0),
    "health view": lambda b: KafkaHealthView(b, timeout_s=1.0),
}


@pytest.mark.parametrize("client", list(KAFKA_CLIENTS))
def test_kafka_down_is_a_bus_error_naming_the_address_within_the_timeout(client: str) -> None:
    bootstrap = f"127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(BusError, match=f"^cannot reach Kafka at {bootstrap}: ") as info:
        KAFKA_CLIENTS[client](bootstrap)
    assert time.monotonic() - started < 5.0
    assert "\n" not in str(info.value)
    if client == "registry":
        assert isinstance(info.value, RegistryError)
