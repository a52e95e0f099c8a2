"""Real RTSP cameras for tests: each a `tests.rtsp_server` process that can be killed, hung and restarted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RtspCamera:
    """`start()` serves `rtsp://127.0.0.1:<port><mount>`; `kill()`, `hang()`, `resume()`, `start()` again."""

    mount: str = "/cam"
    port: int = field(default_factory=free_port)
    fps: int = 10
    user: str | None = None
    password: str | None = None
    video: Path = VTEST
    proc: subprocess.Popen[str] | None = None

    @property
    def uri(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.mount}"

    def start(self, timeout_s: float = 30.0) -> RtspCamera:
        args = [sys.executable, "-m", "tests.rtsp_server", "--port", str(self.port), "--mount", self.mount]
        args += ["--video", str(self.video), "--fps", str(self.fps)]
        if self.user:
            args += ["--user", self.user, "--password", self.password or ""]
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the server prints READY once it listens
        if not line.startswith("READY"):
            self.kill()
            raise RuntimeError(f"RTSP server on port {self.port} did not start: {line!r}")
        return self

    def kill(self) -> None:
        if self.proc is not None:
            self.resume()
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def hang(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
