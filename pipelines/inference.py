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

from detectors.base import Detections, Detector
from pipelines.config import CameraConfig
from pipelines.emit import EmitContext
from pipelines.gating import MotionGate
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

    def __init__(
        self,
        camera_id: str,
        worker: CameraWorker,
        max_frames: int,
        live: bool,
        gate: MotionGate | None = None,
    ) -> None:
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
        #: decides per frame whether the detector runs (None: always)
        self.gate = gate
        self.detector_calls = 0

    @property
    def frames_gated(self) -> int:
        return 0 if self.gate is None else self.gate.frames_gated


class SharedInference:
    """The worker's one detector and the thread that serves all camera queues round-robin."""

    def __init__(self, detector: Detector, *, batch_max: int = 1, idle_wait_s: float = 0.5) -> None:
        if batch_max < 1:
            raise ValueError(f"batch_max must be >= 1, got {batch_max}")
        self.detector = detector
        self.batch_max = batch_max
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
    def attach(
        self,
        camera_id: str,
        worker: CameraWorker,
        *,
        max_frames: int,
        live: bool,
        gate: MotionGate | None = None,
    ) -> CameraQueue:
        with self._cond:
            if camera_id in self._queues:
                raise ValueError(f"camera {camera_id!r} is already attached")
            queue = CameraQueue(camera_id, worker, max_frames, live, gate)
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

    def _take(self) -> list[tuple[CameraQueue, QueueItem]] | None:
        """The next work, round-robin over cameras: one control item, or up to `batch_max` frames of
        different cameras (what is there now; no waiting to fill a batch). None when stopping."""
        with self._cond:
            while not self._stopping:
                taken: list[tuple[CameraQueue, QueueItem]] = []
                n = len(self._order)
                for k in range(n):
                    camera_id = self._order[(self._next + k) % n]
                    queue = self._queues[camera_id]
                    if not queue.items:
                        continue
                    if not isinstance(queue.items[0], Frame) and taken:
                        continue  # a control item goes alone, in its own turn
                    item = queue.items.popleft()
                    taken.append((queue, item))
                    self._next = (self._next + k + 1) % n
                    if isinstance(item, Frame):
                        queue.frames_queued -= 1
                    if not isinstance(item, Frame) or len(taken) == self.batch_max:
                        break
                if taken:
                    self._busy = taken[0][0].camera_id
                    self._cond.notify_all()  # a file reader may be waiting for room
                    return taken
                self._cond.wait(self._idle_wait_s)
            return None

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            try:
                self._serve(taken)
            except Exception as exc:  # one camera's failure never stops the others
                for queue, _ in taken:
                    queue.errors += 1
                    if queue.errors == 1 or queue.errors % 100 == 0:
                        logger.error(
                            "%s: analysis failed (%d so far): %s", queue.camera_id, queue.errors, exc
                        )
            finally:
                with self._cond:
                    self._busy = None

    def _serve(self, taken: list[tuple[CameraQueue, QueueItem]]) -> None:
        frames: list[tuple[CameraQueue, Frame]] = []
        for queue, item in taken:
            if isinstance(item, StreamStart):
                queue.base_ts_ms = item.base_ts_ms
                queue.worker.start_stream(item.resolution_wh, item.fps)
                if queue.gate is not None:
                    queue.gate.reset()
            elif isinstance(item, Reconfigure):
                queue.worker.reconfigure(item.camera, item.ctx)
                if queue.gate is not None and queue.gate.config != item.camera.motion:
                    queue.gate = MotionGate(item.camera.motion)
            else:
                frames.append((queue, item))
        if not frames:
            return
        t0 = time.monotonic()
        wanted = [(q, f) for q, f in frames if q.gate is None or q.gate.should_detect(f.image_bgr, f.pts_ms)]
        found: dict[int, Detections] = {}
        if wanted:
            images = [f.image_bgr for _, f in wanted]
            results = (
                self.detector.detect_batch(images) if len(images) > 1 else [self.detector.detect(images[0])]
            )
            self.detector_calls += 1
            for (queue, frame), detections in zip(wanted, results, strict=True):
                found[id(frame)] = detections
                queue.detector_calls += 1
                queue.worker.stats.detector_calls += 1
                if queue.gate is not None:
                    queue.gate.remember(detections)
        share_s = (time.monotonic() - t0) / len(frames)
        for queue, frame in frames:
            t1 = time.monotonic()
            got = found.get(id(frame))
            if got is None:  # gated: nothing moved, the last detections still hold
                assert queue.gate is not None
                queue.worker.stats.frames_gated += 1
                got = queue.gate.last_detections()
            detections = got
            worker = queue.worker
            worker.analyse(frame.image_bgr, detections, queue.base_ts_ms + frame.pts_ms, frame.pts_ms)
            worker.stats.busy_s += share_s + time.monotonic() - t1
            worker.stats.position_ms = frame.pts_ms
            queue.frames_analysed += 1
