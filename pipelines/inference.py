"""One detector per worker, serving every camera of the worker fairly.

Each camera's reader thread puts decoded frames into its own bounded `CameraQueue`; one inference
thread takes them round-robin (one frame of each camera with work, in turn), runs the detector and hands
the detections to that camera's `CameraWorker` (track, rules, events). A live camera whose queue is
full drops its *oldest* frame (counted), so it stays current; a file camera's reader waits instead,
so a file is always analysed completely and in order. Control items (a new stream after a reconnect,
new rules) are never dropped and are applied in order with the frames.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from detectors.base import Detector
from pipelines.config import CameraConfig
from pipelines.emit import EmitContext
from pipelines.sources import Frame
from pipelines.worker import CameraWorker

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamStart:
    """The camera (re)connected: reset its tracker; frames that follow are stamped `base_ts_ms + pts`."""

    resolution_wh: tuple[int, int]
    fps: float
    base_ts_ms: int


@dataclass(frozen=True, slots=True)
class Reconfigure:
    """New zones, lines or rules for the same stream."""

    camera: CameraConfig
    ctx: EmitContext


QueueItem = Frame | StreamStart | Reconfigure


class CameraQueue:
    """Frames of one camera waiting for the detector (guarded by the inference service's condition)."""

    def __init__(self, camera_id: str, worker: CameraWorker, max_frames: int, live: bool) -> None:
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.camera_id = camera_id
        self.worker = worker
        self.max_frames = max_frames
        self.live = live
        self.items: deque[QueueItem] = deque()
        self.frames_queued = 0
        #: frames dropped here because the detector was behind (live cameras only)
        self.frames_dropped = 0
        self.frames_analysed = 0
        self.errors = 0
        self.closed = False
        self.base_ts_ms = 0


class SharedInference:
    """The worker's one detector and the thread that serves all camera queues round-robin."""

    def __init__(self, detector: Detector, *, idle_wait_s: float = 0.5) -> None:
        self.detector = detector
        self._idle_wait_s = idle_wait_s
        self._cond = threading.Condition()
        self._queues: dict[str, CameraQueue] = {}
        self._order: list[str] = []
        self._next = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.detector_calls = 0
        self._busy: str | None = None

    # --- cameras ---------------------------------------------------------------------------------
    def attach(self, camera_id: str, worker: CameraWorker, *, max_frames: int, live: bool) -> CameraQueue:
        with self._cond:
            if camera_id in self._queues:
                raise ValueError(f"camera {camera_id!r} is already attached")
            queue = CameraQueue(camera_id, worker, max_frames, live)
            self._queues[camera_id] = queue
            self._order.append(camera_id)
            return queue

    def detach(self, camera_id: str) -> None:
        """Forget a camera: pending frames are discarded and a waiting reader is released."""
        with self._cond:
            queue = self._queues.pop(camera_id, None)
            if queue is None:
                return
            self._order.remove(camera_id)
            queue.closed = True
            queue.items.clear()
            self._cond.notify_all()

    def put(self, queue: CameraQueue, item: QueueItem, stop: threading.Event | None = None) -> bool:
        """Queue one item; False when the queue was closed (camera removed) or `stop` was set."""
        with self._cond:
            if isinstance(item, Frame):
                while not queue.live and queue.frames_queued >= queue.max_frames and not queue.closed:
                    if stop is not None and stop.is_set():
                        return False
                    self._cond.wait(0.2)
                if queue.closed:
                    return False
                if queue.frames_queued >= queue.max_frames:
                    self._drop_oldest_frame(queue)
                queue.frames_queued += 1
            elif queue.closed:
                return False
            queue.items.append(item)
            self._cond.notify_all()
            return True

    def idle(self) -> bool:
        """No frame waiting and none being analysed."""
        with self._cond:
            return self._busy is None and not any(q.items for q in self._queues.values())

    def pending(self, camera_id: str) -> int:
        with self._cond:
            queue = self._queues.get(camera_id)
            return 0 if queue is None else len(queue.items)

    @staticmethod
    def _drop_oldest_frame(queue: CameraQueue) -> None:
        for i, old in enumerate(queue.items):
            if isinstance(old, Frame):
                del queue.items[i]
                queue.frames_queued -= 1
                queue.frames_dropped += 1
                return

    # --- the loop --------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _take(self) -> tuple[CameraQueue, QueueItem] | None:
        """The next item, round-robin over cameras with work; None when stopping."""
        with self._cond:
            while not self._stopping:
                n = len(self._order)
                for k in range(n):
                    camera_id = self._order[(self._next + k) % n]
                    queue = self._queues[camera_id]
                    if queue.items:
                        self._next = (self._next + k + 1) % n
                        item = queue.items.popleft()
                        self._busy = camera_id
                        if isinstance(item, Frame):
                            queue.frames_queued -= 1
                            self._cond.notify_all()  # a file reader may be waiting for room
                        return queue, item
                self._cond.wait(self._idle_wait_s)
            return None

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            queue, item = taken
            try:
                self._serve(queue, item)
            except Exception as exc:  # one camera's failure never stops the others
                queue.errors += 1
                if queue.errors == 1 or queue.errors % 100 == 0:
                    logger.error("%s: analysis failed (%d so far): %s", queue.camera_id, queue.errors, exc)
            finally:
                with self._cond:
                    self._busy = None

    def _serve(self, queue: CameraQueue, item: QueueItem) -> None:
        worker = queue.worker
        if isinstance(item, StreamStart):
            queue.base_ts_ms = item.base_ts_ms
            worker.start_stream(item.resolution_wh, item.fps)
        elif isinstance(item, Reconfigure):
            worker.reconfigure(item.camera, item.ctx)
        else:
            t0 = time.monotonic()
            detections = self.detector.detect(item.image_bgr)
            self.detector_calls += 1
            worker.analyse(item.image_bgr, detections, queue.base_ts_ms + item.pts_ms, item.pts_ms)
            worker.stats.busy_s += time.monotonic() - t0
            worker.stats.position_ms = item.pts_ms
            queue.frames_analysed += 1
