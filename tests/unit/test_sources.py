"""GStreamer frame sources on real files (and a local RTSP server): frames, timestamps, failures."""

from __future__ import annotations

import hashlib
import itertools
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from events.cameras import OfflineCause, redact_text, redact_uri
from pipelines.sources import Frame, SourceError, SourceOptions, open_source, resolve_uri
from pipelines.sources.gst_helpers import classify_error, to_bgr
from pipelines.sources.gstreamer import GstSource
from tests.unit.detector_assets import MEGAMIND_BUGY, VTEST, require_media


def _all_frames(source: GstSource) -> list[Frame]:
    with source:
        return list(source)


@pytest.fixture(scope="module")
def vtest_decoded() -> tuple[list[Frame], GstSource]:
    source = open_source(str(require_media(VTEST)))
    return _all_frames(source), source


def test_vtest_decodes_every_frame(vtest_decoded: tuple[list[Frame], GstSource]) -> None:
    frames, source = vtest_decoded
    assert len(frames) == 795
    assert source.resolution_wh == (768, 576)
    assert source.fps == pytest.approx(10.0)
    assert (source.frames_decoded, source.frames_dropped, source.frames_skipped) == (795, 0, 0)
    assert [f.index for f in frames] == list(range(795))
    for f in frames[::97]:
        assert f.image_bgr.shape == (576, 768, 3) and f.image_bgr.dtype == np.uint8
        assert f.image_bgr.flags["C_CONTIGUOUS"] and f.image_bgr.flags["WRITEABLE"]
    pts = [f.pts_ms for f in frames]
    assert pts[0] == 0 and all(b > a for a, b in itertools.pairwise(pts))
    assert pts[-1] == 79_400  # 10 fps


def test_vtest_frames_match_an_independent_decoder(vtest_decoded: tuple[list[Frame], GstSource]) -> None:
    """Same pixels (within decoder/colour-conversion rounding) as OpenCV's FFmpeg decoder."""
    frames, _ = vtest_decoded
    capture = cv2.VideoCapture(str(VTEST))
    for i in range(0, 60):
        ok, ref = capture.read()
        assert ok
        if i % 20 == 0:
            diff = np.abs(frames[i].image_bgr.astype(np.int16) - ref.astype(np.int16))
            assert float(diff.mean()) < 4.0, f"frame {i} differs by {diff.mean():.1f} on average"
    capture.release()


def test_a_file_always_yields_the_same_frames() -> None:
    def digests(uri: str) -> list[str]:
        with open_source(uri, SourceOptions(queue_max=2)) as source:
            out = []
            for frame in source:
                out.append(hashlib.sha256(frame.image_bgr.tobytes()).hexdigest())
                if len(out) == 40:
                    break
            return out

    path = require_media(VTEST)
    assert digests(str(path)) == digests(path.as_uri())  # plain path and file:// URI alike


@pytest.mark.parametrize(
    ("analysis_fps", "expected"),
    [(20.0, 795), (5.0, 398), (3.0, 199), (1.0, 80)],
)
def test_analysis_fps_subsamples_by_pts(analysis_fps: float, expected: int) -> None:
    source = open_source(str(require_media(VTEST)), SourceOptions(analysis_fps=analysis_fps))
    frames = _all_frames(source)
    assert len(frames) == expected
    assert source.frames_skipped == 795 - expected
    if expected < 795:
        gaps = np.diff([f.pts_ms for f in frames])
        assert gaps.min() >= 1000 / analysis_fps - 1


def test_close_mid_stream_stops_iteration() -> None:
    source = open_source(str(require_media(VTEST)))
    first = next(source)
    source.close()
    source.close()  # idempotent
    assert first.index == 0
    assert list(source) == []


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("/nonexistent/video.avi", "video not found: /nonexistent/video.avi"),
        ("file:///nonexistent/a%20b.avi", "video not found: /nonexistent/a b.avi"),
        ("/usr/share", "video is not a file: /usr/share"),
        ("ftp://example.com/x.mp4", "unsupported source URI scheme 'ftp'"),
        ("rtsp:///stream1", "no host in rtsp:///stream1"),
        ("v4l2:///dev/video-none", "capture device not found: /dev/video-none"),
    ],
)
def test_unusable_uris_fail_before_decoding(uri: str, message: str) -> None:
    with pytest.raises(SourceError, match=message.replace(".", r"\.")) as raised:
        open_source(uri)
    assert raised.value.cause is OfflineCause.NOT_FOUND


@pytest.mark.parametrize(
    "content",
    [b"this is a text file, not a video\n" * 10, bytes(np.random.default_rng(3).integers(0, 256, 50_000))],
)
def test_a_file_that_is_not_a_video_names_the_gstreamer_error(tmp_path: Path, content: bytes) -> None:
    fake = tmp_path / "fake.avi"
    fake.write_bytes(content)
    with pytest.raises(SourceError, match=r"cannot decode file://.*fake\.avi: \w+"):
        open_source(str(fake), SourceOptions(stall_s=5))


def test_megamind_bugy_decodes_without_crashing() -> None:
    """The deliberately corrupted stream: GStreamer's decoder conceals the damage, all frames come out."""
    source = open_source(str(require_media(MEGAMIND_BUGY)))
    frames = _all_frames(source)
    assert len(frames) == 270
    assert all(f.image_bgr.shape == (528, 720, 3) for f in frames)
    assert source.errors == 0
    pts = [f.pts_ms for f in frames]
    assert all(b > a for a, b in itertools.pairwise(pts))  # repaired where the AVI repeats pts
    assert source.pts_repaired > 0


def test_a_truncated_file_yields_what_is_decodable(tmp_path: Path) -> None:
    cut = tmp_path / "cut.avi"
    cut.write_bytes(require_media(VTEST).read_bytes()[:3_000_000])
    frames = _all_frames(open_source(str(cut)))
    assert 100 < len(frames) < 795
    assert all(f.image_bgr.shape == (576, 768, 3) for f in frames)


def test_padded_rows_are_unpadded(tmp_path: Path) -> None:
    """98 px BGR rows are 294 bytes, padded to 296 by GStreamer: the frames must not shear.

    (OpenCV's writer rounds sizes down to even numbers, so 98 x 50 is the oddest it makes.)
    """
    path = tmp_path / "odd.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 5.0, (98, 50))
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]
    for colour in colours:
        image = np.zeros((50, 98, 3), np.uint8)
        image[:] = colour
        image[:, 60:] = 255 - np.array(colour, np.uint8)  # a vertical edge that shears if strides are wrong
        writer.write(image)
    writer.release()
    source = open_source(str(path))
    frames = _all_frames(source)
    assert len(frames) == 3 and source.resolution_wh == (98, 50)
    for frame, colour in zip(frames, colours, strict=True):
        assert frame.image_bgr.shape == (50, 98, 3)
        np.testing.assert_allclose(frame.image_bgr[:, 5:55].mean(axis=(0, 1)), colour, atol=12)
        np.testing.assert_allclose(frame.image_bgr[:, 65:].mean(axis=(0, 1)), 255 - np.array(colour), atol=12)


@pytest.mark.parametrize(("width", "height", "stride"), [(4, 2, 12), (5, 3, 16), (99, 4, 300), (1, 1, 4)])
def test_to_bgr_drops_row_padding(width: int, height: int, stride: int) -> None:
    image = np.arange(height * width * 3, dtype=np.uint8).reshape(height, width, 3)
    padded = np.full((height, stride), 0xEE, dtype=np.uint8)
    padded[:, : width * 3] = image.reshape(height, width * 3)
    out = to_bgr(padded.tobytes(), width, height, stride)
    np.testing.assert_array_equal(out, image)
    assert out.flags["C_CONTIGUOUS"] and out.flags["WRITEABLE"]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("rtsp://admin:s3cret@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1"),
        ("rtsp://10.0.0.5/stream1", "rtsp://10.0.0.5/stream1"),
        ("/videos/a.avi", "/videos/a.avi"),
    ],
)
def test_redact_uri_hides_passwords(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


@pytest.mark.parametrize(
    "uri", ["rtsp://cam.local/x", "rtsps://cam.local/x", "http://cam.local/mjpeg", "https://cam.local/a.m3u8"]
)
def test_network_uris_are_live_and_not_checked_on_disk(uri: str) -> None:
    assert resolve_uri(uri) == (uri, True)


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (
            "Could not open resource for reading and writing. Failed to connect. (Connection refused)",
            "unreachable",
        ),
        ("Unauthorized (401)", "unauthorized"),
        ("Not Found (404)", "not_found"),
        ("Could not read from resource. Could not receive message. (Timeout while waiting)", "unreachable"),
        ("Internal data stream error. streaming stopped, reason not-negotiated (-4)", "decode_error"),
    ],
)
def test_gstreamer_errors_are_classified(text: str, cause: str) -> None:
    assert classify_error(text) == OfflineCause(cause)


@pytest.mark.parametrize("kwargs", [{"queue_max": 0}, {"stall_s": 0.0}, {"analysis_fps": 0.0}])
def test_bad_limits_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SourceOptions(**kwargs)


# --- live sources, against a local RTSP server ---------------------------------------------------


@pytest.fixture
def rtsp_server() -> Iterator[Any]:
    """`serve(launch) -> rtsp://127.0.0.1:<port>/test`, one GLib loop thread per test."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    loops: list[Any] = []

    def serve(launch: str) -> str:
        server = GstRtspServer.RTSPServer.new()
        server.set_address("127.0.0.1")
        server.set_service("0")
        factory = GstRtspServer.RTSPMediaFactory.new()
        factory.set_launch(launch)
        server.get_mount_points().add_factory("/test", factory)
        context = GLib.MainContext.new()
        server.attach(context)
        loop = GLib.MainLoop.new(context, False)
        threading.Thread(target=loop.run, daemon=True).start()
        loops.append((loop, server))
        return f"rtsp://127.0.0.1:{server.get_bound_port()}/test"

    yield serve
    for loop, _server in loops:
        loop.quit()


def _jpeg_stream(frames: int, fps: int) -> str:
    return (
        f"( videotestsrc is-live=true num-buffers={frames} ! "
        f"video/x-raw,width=160,height=120,framerate={fps}/1,format=I420 ! "
        "jpegenc ! rtpjpegpay name=pay0 pt=26 )"
    )


def test_live_stream_end_is_a_failure(rtsp_server: Any) -> None:
    uri = rtsp_server(_jpeg_stream(frames=30, fps=30))
    received = 0
    with (
        pytest.raises(SourceError, match="stream ended"),
        open_source(uri, SourceOptions(stall_s=5)) as source,
    ):
        assert source.live and source.resolution_wh == (160, 120)
        for _frame in source:
            received += 1
    assert 20 <= received <= 30


def test_a_slow_consumer_drops_live_frames_and_counts_them(rtsp_server: Any) -> None:
    uri = rtsp_server(_jpeg_stream(frames=60, fps=60))
    received: list[Frame] = []
    with (
        pytest.raises(SourceError, match="stream ended"),
        open_source(uri, SourceOptions(queue_max=2, stall_s=5)) as source,
    ):
        for frame in source:
            received.append(frame)
            time.sleep(0.05)
    assert source.frames_dropped > 10
    assert source.frames_decoded == len(received) + source.frames_dropped
    pts = [f.pts_ms for f in received]
    assert all(b > a for a, b in itertools.pairwise(pts))


def test_a_refused_rtsp_connection_names_the_cause() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        SourceError, match=r"cannot decode rtsp://u:\*\*\*@127\.0\.0\.1:\d+/x: Could not open"
    ) as raised:
        open_source(f"rtsp://u:pw@127.0.0.1:{port}/x", SourceOptions(stall_s=5))
    assert raised.value.cause is OfflineCause.UNREACHABLE


def test_a_silent_server_trips_the_watchdog() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(SourceError, match=r"no frame for 1\.5 s") as raised:
            open_source(f"rtsp://127.0.0.1:{port}/x", SourceOptions(stall_s=1.5))
        assert raised.value.cause is OfflineCause.STALLED
        assert 1.4 < time.monotonic() - t0 < 5


def test_a_file_reports_its_duration_for_progress() -> None:
    with open_source(str(require_media(VTEST))) as source:
        duration_ms = source.duration_ms
    assert duration_ms is not None
    assert abs(duration_ms - 79_500) <= 200  # 795 frames at 10 fps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("could not open rtsp://admin:pw@10.0.0.5:554/x", "could not open rtsp://admin:***@10.0.0.5:554/x"),
        ("a http://u:p@h/ and rtsps://x:y@z/s", "a http://u:***@h/ and rtsps://x:***@z/s"),
        ("no credentials rtsp://h/x", "no credentials rtsp://h/x"),
    ],
)
def test_redact_text_hides_passwords_in_library_messages(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_cameras_opened_at_once_from_many_threads_all_open() -> None:
    """GStreamer's first initialisation is raced by cameras starting together (a fresh process)."""
    code = (
        "import threading\n"
        "from pipelines.sources import open_source\n"
        f"uri = {str(require_media(VTEST))!r}\n"
        "errors = []\n"
        "def go():\n"
        "    try:\n"
        "        with open_source(uri) as s: next(iter(s))\n"
        "    except Exception as e: errors.append(repr(e))\n"
        "ts = [threading.Thread(target=go) for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(len(errors), errors[:1])\n"
    )
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        assert out.stdout.startswith("0 "), out.stdout
