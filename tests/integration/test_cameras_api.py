"""Cameras at run time through the HTTP API of a running `anfang demo` (embedded), on real RTSP servers:
add a camera (frames within 5 s), change its zones (applied without a restart), delete it (analysis
stops), and bad cameras (unreachable, 404, 401, not video, bad scheme, duplicate, missing zone) each
reported with their cause while the worker keeps running."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from tests.integration.signin import bearer, create_api_key
from tests.rtsp_fixtures import REPO, RtspCamera, free_port
from tests.unit.detector_assets import ONNX_MODEL, require_model

pytestmark = [pytest.mark.slow]
T = TypeVar("T")
SECRET = "s3cr3t-pw"
#: Every request of this module, signed in with an admin API key once the demo's data folder exists.
API = httpx.Client()


def wait_for(predicate: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.1)
    return value


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Any]]:
    plain = RtspCamera(mount="/live").start()
    locked = RtspCamera(mount="/locked", user="admin", password=SECRET).start()
    text_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"anfang-notvideo-{os.getpid()}"
    text_dir.mkdir(exist_ok=True)
    (text_dir / "page.html").write_text("<html>this is not a video</html>\n" * 50)
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(text_dir))  # noqa: E731
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        yield {"plain": plain, "locked": locked, "web": f"http://127.0.0.1:{web.server_address[1]}"}
    finally:
        web.shutdown()
        plain.kill()
        locked.kill()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    tmp = tmp_path_factory.mktemp("cameras-api")
    config = yaml.safe_load((REPO / "deploy/config/demo.yaml").read_text())
    config["detector"]["model_path"] = str(require_model(ONNX_MODEL))
    config["cameras"] = []  # every camera comes through the API
    (tmp / "c.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    env = {
        **os.environ,
        "ANFANG_DATA_DIR": str(tmp / "data"),
        "ANFANG_SUPERVISOR__HEARTBEAT_EVERY_S": "0.5",
        "ANFANG_SUPERVISOR__STALL_S": "3",
        "ANFANG_SUPERVISOR__BACKOFF_MAX_S": "2",
        "PYTHONUNBUFFERED": "1",
    }
    API.headers.update(bearer(create_api_key(env)))
    log = (tmp / "demo.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "anfang.cli", "demo", "--config", str(tmp / "c.yaml"), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, (tmp / "demo.log").read_text()[-3000:]
        try:
            return API.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 60, "the demo's API ready")
    yield base, proc
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    text = (tmp / "demo.log").read_text()
    assert proc.returncode == 0, text[-3000:]
    assert "Traceback" not in text
    assert SECRET not in text  # credentials never reach the log


def camera(base: str, camera_id: str) -> dict[str, Any]:
    r = API.get(f"{base}/v1/cameras/{camera_id}", timeout=5)
    assert r.status_code == 200, r.text
    assert SECRET not in r.text
    data: dict[str, Any] = r.json()
    return data


def events(base: str, camera_id: str, kind: str) -> list[dict[str, Any]]:
    r = API.get(f"{base}/v1/events", params={"camera_id": camera_id, "type": kind, "limit": 500}, timeout=10)
    assert r.status_code == 200, r.text
    assert SECRET not in r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_add_update_delete_a_live_camera(demo: tuple[str, Any], servers: dict[str, Any]) -> None:
    base, _ = demo
    spec = {"id": "live1", "uri": servers["plain"].uri, "analysis_fps": 2}
    added_at = time.monotonic()
    r = API.post(f"{base}/v1/cameras", json=spec, timeout=10)
    assert r.status_code == 201, r.text
    wait_for(lambda: camera(base, "live1")["frames_analysed"] > 0, 5, "first frames analysed")
    assert time.monotonic() - added_at <= 5.5
    assert camera(base, "live1")["status"] == "online"
    wait_for(lambda: events(base, "live1", "camera_online"), 10, "camera_online stored")
    assert events(base, "live1", "zone_intrusion") == []

    # new zone geometry and a rule, applied to the running stream (no restart, no reconnect)
    whole_frame = {"id": "everything", "polygon_xy": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    rule = {
        "id": "any-person",
        "type": "zone_intrusion",
        "zone": "everything",
        "min_dwell_s": 0,
        "cooldown_s": 1,
    }
    r = API.put(
        f"{base}/v1/cameras/live1", json={**spec, "zones": [whole_frame], "rules": [rule]}, timeout=10
    )
    assert r.status_code == 200, r.text
    wait_for(lambda: events(base, "live1", "zone_intrusion"), 20, "the new zone fires")
    assert len(events(base, "live1", "camera_online")) == 1  # the stream was kept
    assert camera(base, "live1")["reconnects"] == 0

    # delete: nothing of it is analysed any more
    r = API.delete(f"{base}/v1/cameras/live1", timeout=10)
    assert r.status_code == 204, r.text
    deleted_ms = int(time.time() * 1000)
    assert API.get(f"{base}/v1/cameras/live1", timeout=5).status_code == 404
    time.sleep(6)
    late = [e for e in events(base, "live1", "zone_intrusion") if e["ts_ms"] > deleted_ms + 1000]
    assert late == [], "frames of a deleted camera were still analysed"


@pytest.mark.parametrize(
    ("camera_id", "uri", "cause"),
    [
        ("unreachable", "rtsp://127.0.0.1:{free}/x", "unreachable"),
        ("wrong-path", "{plain_root}/nope", "not_found"),
        ("wrong-password", "rtsp://admin:wrong-{secret}@{locked_host}/locked", "unauthorized"),
        ("not-video", "{web}/page.html", "decode_error"),
    ],
)
def test_a_bad_camera_is_offline_with_its_cause(
    demo: tuple[str, Any], servers: dict[str, Any], camera_id: str, uri: str, cause: str
) -> None:
    base, proc = demo
    plain, locked = servers["plain"], servers["locked"]
    uri = uri.format(
        free=free_port(),
        plain_root=f"rtsp://127.0.0.1:{plain.port}",
        secret=SECRET,
        locked_host=f"127.0.0.1:{locked.port}",
        web=servers["web"],
    )
    r = API.post(f"{base}/v1/cameras", json={"id": camera_id, "uri": uri}, timeout=10)
    assert r.status_code == 201, r.text
    assert SECRET not in r.text
    state = wait_for(
        lambda: (c := camera(base, camera_id))["status"] in ("offline", "reconnecting") and c["cause"] and c,
        15,
        "offline with a cause",
    )
    assert state["cause"] == cause, state
    offline = wait_for(lambda: events(base, camera_id, "camera_offline"), 10, "camera_offline stored")
    assert offline[0]["attributes"]["cause"] == cause and offline[0]["alert"]
    assert proc.poll() is None  # the worker keeps running
    assert API.delete(f"{base}/v1/cameras/{camera_id}", timeout=10).status_code == 204


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"id": "ftp", "uri": "ftp://example.com/x.mp4"}, 422, "unsupported URI scheme"),
        ({"id": "bad id!", "uri": "rtsp://h/x"}, 422, "id"),
        (
            {
                "id": "nozone",
                "uri": "rtsp://h/x",
                "rules": [{"id": "r", "type": "zone_intrusion", "zone": "z"}],
            },
            422,
            "unknown zone",
        ),
    ],
)
def test_invalid_cameras_are_refused_with_the_field(
    demo: tuple[str, Any], body: dict[str, Any], status: int, fragment: str
) -> None:
    base, _ = demo
    r = API.post(f"{base}/v1/cameras", json=body, timeout=10)
    assert r.status_code == status, r.text
    assert fragment in r.text


def test_a_duplicate_camera_id_is_a_conflict(demo: tuple[str, Any], servers: dict[str, Any]) -> None:
    base, _ = demo
    spec = {"id": "dup", "uri": servers["plain"].uri, "analysis_fps": 1}
    assert API.post(f"{base}/v1/cameras", json=spec, timeout=10).status_code == 201
    r = API.post(f"{base}/v1/cameras", json=spec, timeout=10)
    assert r.status_code == 409 and "dup" in r.text
    assert API.delete(f"{base}/v1/cameras/dup", timeout=10).status_code == 204
