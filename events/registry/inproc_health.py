"""Worker health in one process: the latest heartbeat of each worker, read by the API.

`InProcessHealth` is both the `HeartbeatPublisher` the worker writes to and the `HealthView` the API
reads. A worker's age is measured from when its heartbeat arrived (a monotonic clock), so the wall
clock stepping does not make cameras offline; the cameras of a worker silent for more than
`stale_after_s` are reported `offline` ("worker <id> silent for N s").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from events.cameras import CameraHealth, WorkerHeartbeat, merge_heartbeats

logger = logging.getLogger(__name__)


class InProcessHealth:
    def __init__(self, stale_after_s: float = 15.0, *, clock_s: Callable[[], float] = time.monotonic) -> None:
        if stale_after_s <= 0:
            raise ValueError(f"stale_after_s must be > 0, got {stale_after_s}")
        self.stale_after_s = stale_after_s
        self._clock_s = clock_s
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[WorkerHeartbeat, float]] = {}  # worker id -> (heartbeat, arrived_s)

    def publish(self, heartbeat: WorkerHeartbeat) -> None:
        arrived_s = self._clock_s()
        with self._lock:
            previous = self._latest.get(heartbeat.worker_id)
            if previous is not None and previous[0].ts_ms > heartbeat.ts_ms:
                logger.debug("older heartbeat of worker %s ignored", heartbeat.worker_id)
                return
            self._latest[heartbeat.worker_id] = (heartbeat, arrived_s)

    def latest(self) -> Mapping[str, CameraHealth]:
        now_s = self._clock_s()
        with self._lock:
            pairs = [(hb, now_s - arrived_s) for hb, arrived_s in self._latest.values()]
        return merge_heartbeats(pairs, self.stale_after_s)

    def workers(self) -> dict[str, WorkerHeartbeat]:
        """The latest heartbeat of each worker heard from (worker id -> heartbeat)."""
        with self._lock:
            return {worker_id: hb for worker_id, (hb, _) in self._latest.items()}

    def close(self) -> None:
        """Nothing to release; kept for the protocols."""
