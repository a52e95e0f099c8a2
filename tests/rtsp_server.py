"""A real RTSP camera for tests: GstRtspServer looping frames of a video as H.264, in its own process.

    python -m tests.rtsp_server --port 8554 --mount /cam1 --video vtest.avi --fps 10 [--user u --password p]

Frames are decoded once (optionally scaled), then pushed through appsrc at `--fps`, forever, with
running timestamps, so tests can kill (SIGKILL), hang (SIGSTOP/SIGCONT) and restart a camera. Prints
`READY rtsp://...` on stdout when serving.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

import cv2
import numpy as np


def load_frames(path: str, max_frames: int, width_px: int) -> list[bytes]:
    capture = cv2.VideoCapture(path)
    frames: list[bytes] = []
    while len(frames) < max_frames:
        ok, frame = capture.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        height_px = round(h * width_px / w / 2) * 2
        frames.append(np.ascontiguousarray(cv2.resize(frame, (width_px, height_px))).tobytes())
    capture.release()
    if not frames:
        raise SystemExit(f"no frames in {path}")
    return frames


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 (one linear set-up script)
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mount", default="/cam")
    p.add_argument("--video", required=True)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--frames", type=int, default=100, help="frames of the video to loop")
    p.add_argument("--width", type=int, default=384)
    p.add_argument("--user")
    p.add_argument("--password")
    args = p.parse_args(argv)

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    frames = load_frames(args.video, args.frames, args.width)
    first = cv2.VideoCapture(args.video)
    _, img = first.read()
    first.release()
    h, w = img.shape[:2]
    width, height = args.width, round(h * args.width / w / 2) * 2

    server = GstRtspServer.RTSPServer.new()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory.new()
    factory.set_launch(
        f"( appsrc name=src is-live=true format=time do-timestamp=false "
        f"caps=video/x-raw,format=BGR,width={width},height={height},framerate={args.fps}/1 ! "
        "videoconvert ! video/x-raw,format=I420 ! "
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} bitrate=800 ! "
        "rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(True)
    period_ns = Gst.SECOND // args.fps

    def configure(_factory: Any, media: Any) -> None:
        src = media.get_element().get_by_name("src")
        state = {"i": 0, "stop": False}

        def push() -> None:
            start = time.monotonic()
            while not state["stop"]:
                i = int(state["i"])
                buf = Gst.Buffer.new_wrapped(frames[i % len(frames)])
                buf.pts = i * period_ns
                buf.duration = period_ns
                if src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                    return
                state["i"] = i + 1
                delay = start + (i + 1) / args.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        threading.Thread(target=push, daemon=True).start()
        media.connect("unprepared", lambda *_: state.update(stop=True))

    factory.connect("media-configure", configure)
    if args.user:
        auth = GstRtspServer.RTSPAuth.new()
        token = GstRtspServer.RTSPToken.new()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions.new()
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        sys.stderr.write(f"cannot listen on 127.0.0.1:{args.port}\n")
        return 1
    sys.stdout.write(f"READY rtsp://127.0.0.1:{args.port}{args.mount}\n")
    sys.stdout.flush()
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
