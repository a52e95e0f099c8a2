"""Every camera of a worker: add / update / remove at run time, health, heartbeats, the runtime loop.

The supervisor owns one `CameraRunner` (reader thread, state machine, reconnects) and one `CameraWorker`
(tracker, rules, events) per camera, all served by the worker's single `SharedInference`. Changes come
from a `CameraFeed` (the registry: in-process when embedded, the `anfang.cameras` topic when
distributed) or from direct calls; `run` applies them, publishes `WorkerHeartbeat`s and logs progress.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from detectors.base import ModelInfo
from events.cameras import CameraChange, CameraFeed, CameraHealth, CameraStatus, HeartbeatPublisher
from events.cameras import WorkerHeartbeat as Heartbeat
from events.ports import EventPublisher
from pipelines.camera_runner import CameraRunner, OpenFn, SupervisorConfig
from pipelines.config import CameraConfig, TrackerConfig
from pipelines.emit import EmitContext
from pipelines.evidence import SnapshotWriter
from pipelines.gating import MotionGate
from pipelines.inference import Reconfigure, SharedInference
from pipelines.recognition.stage import RecognizerFactory
from pipelines.sources import open_source
from pipelines.worker import CameraStats, CameraWorker, ProgressFn

logger = logging.getLogger(__name__)

#: Camera fields that need a new connection when they change; anything else (zones, rules) is hot.
_STREAM_FIELDS = (
    "uri",
    "rtsp_transport",
    "live",
    "analysis_fps",
    "enabled",
    "offline_severity",
    "offline_alert",
)


@dataclass(slots=True)
class _Slot:
    camera: CameraConfig
    worker: CameraWorker
    runner: CameraRunner | None
    started_mono: float = field(default_factory=time.monotonic)
    rate_mono: float = field(default_factory=time.monotonic)
    rate_analysed: int = 0
    rate_received: int = 0
    rate_detected: int = 0
    analysed_fps: float = 0.0
    decoded_fps: float = 0.0
    detector_fps: float = 0.0
    gated_share: float = 0.0


class CameraSupervisor:
    def __init__(
        self,
        *,
        inference: SharedInference,
        tracker_config: TrackerConfig,
        publisher: EventPublisher,
        snapshots: SnapshotWriter | None,
        site_id: str,
        worker_id: str,
        config: SupervisorConfig,
        start_ts_ms: int | None = None,
        open_fn: OpenFn = open_source,
        recognizers: Mapping[str, RecognizerFactory] | None = None,
    ) -> None:
        self.inference = inference
        self._recognizers = dict(recognizers or {})
        self._tracker_config = tracker_config
        self._publisher = publisher
        self._snapshots = snapshots
        self._site_id = site_id
        self.worker_id = worker_id
        self.config = config
        self._start_ts_ms = start_ts_ms
        self._open = open_fn
        self._lock = threading.RLock()
        self._slots: dict[str, _Slot] = {}
        #: stats of cameras removed since start (so a summary still counts their events)
        self.removed_stats: list[CameraStats] = []

    @property
    def model(self) -> ModelInfo:
        return self.inference.detector.model

    def _ctx(self, camera: CameraConfig) -> EmitContext:
        return EmitContext(
            camera_id=camera.id,
            site_id=self._site_id,
            worker_id=self.worker_id,
            model=self.model,
            rules={r.id: r for r in camera.rules},
        )

    # --- add / update / remove -------------------------------------------------------------------
    def add(self, camera: CameraConfig) -> None:
        with self._lock:
            if camera.id in self._slots:
                raise ValueError(f"camera {camera.id!r} already runs on this worker")
            ctx = self._ctx(camera)
            worker = CameraWorker(
                camera,
                ctx,
                self._tracker_config,
                self._publisher,
                self._snapshots,
                recognizers=self._recognizers,
            )
            runner = None
            if camera.enabled:
                live = camera.live if camera.live is not None else _scheme_is_live(camera.uri)
                queue = self.inference.attach(
                    camera.id,
                    worker,
                    max_frames=self.config.frame_queue_max,
                    live=live,
                    gate=MotionGate(camera.motion),
                )
                runner = CameraRunner(
                    camera,
                    ctx,
                    self.inference,
                    queue,
                    self._publisher,
                    self.config,
                    start_ts_ms=self._start_ts_ms,
                    open_fn=self._open,
                )
            self._slots[camera.id] = _Slot(camera, worker, runner)
            logger.info("%s: added%s", camera.id, "" if camera.enabled else " (disabled)")
        if runner is not None:
            runner.start()

    def update(self, camera: CameraConfig) -> None:
        """Apply a changed camera: zones/lines/rules in place (tracker kept); a new stream otherwise."""
        with self._lock:
            slot = self._slots.get(camera.id)
            if slot is not None and slot.camera == camera:
                return
            if slot is not None and slot.runner is not None and _same_stream(slot.camera, camera):
                slot.camera = slot.runner.camera = camera
                self.inference.put(slot.runner.queue, Reconfigure(camera, self._ctx(camera)))
                logger.info("%s: zones/lines/rules updated (stream kept)", camera.id)
                return
        if slot is not None:
            self.remove(camera.id)
        self.add(camera)

    def remove(self, camera_id: str) -> bool:
        with self._lock:
            slot = self._slots.pop(camera_id, None)
        if slot is None:
            return False
        self.inference.detach(camera_id)  # no frame of it is analysed from now on
        if slot.runner is not None:
            slot.runner.stop(timeout_s=self.config.stall_s + 1)
        self.removed_stats.append(slot.worker.stats)
        logger.info("%s: removed", camera_id)
        return True

    def apply(self, change: CameraChange) -> None:
        """A change from the registry; an invalid spec is logged (the API validates before storing)."""
        if change.spec is None:
            self.remove(change.camera_id)
            return
        try:
            camera = CameraConfig.model_validate(change.spec)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            logger.error(
                "camera %s from the registry is invalid, ignored: %s: %s", change.camera_id, where, err["msg"]
            )
            return
        self.update(camera)

    def camera_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._slots)

    # --- state -----------------------------------------------------------------------------------
    def health(self) -> list[CameraHealth]:
        """Every camera's state; FPS are rates since the previous call (at least 1 s apart)."""
        now = time.monotonic()
        out = []
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            if slot.runner is None:
                out.append(
                    CameraHealth(
                        camera_id=slot.camera.id, status=CameraStatus.STOPPED, worker_id=self.worker_id
                    )
                )
                continue
            queue = slot.runner.queue
            analysed, received, detected = (
                queue.frames_analysed,
                slot.runner.frames_received,
                queue.detector_calls,
            )
            if now - slot.rate_mono >= 1.0:
                dt = now - slot.rate_mono
                slot.analysed_fps = round((analysed - slot.rate_analysed) / dt, 2)
                slot.decoded_fps = round((received - slot.rate_received) / dt, 2)
                slot.detector_fps = round((detected - slot.rate_detected) / dt, 2)
                window = analysed - slot.rate_analysed
                slot.gated_share = round(1 - (detected - slot.rate_detected) / window, 3) if window else 0.0
                slot.rate_mono, slot.rate_analysed = now, analysed
                slot.rate_received, slot.rate_detected = received, detected
            health = slot.runner.health(self.worker_id)
            rates = {
                "analysed_fps": slot.analysed_fps,
                "decoded_fps": slot.decoded_fps,
                "detector_fps": slot.detector_fps,
                "gated_share": max(0.0, slot.gated_share),
            }
            out.append(health.model_copy(update=rates))
        return out

    def stats(self) -> list[CameraStats]:
        """Counters of every camera seen since start (removed ones included), wall time filled in."""
        now = time.monotonic()
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            slot.worker.stats.wall_s = now - slot.started_mono
            if slot.runner is not None:
                slot.worker.stats.duration_ms = slot.runner.duration_ms
        return [s.worker.stats for s in slots] + list(self.removed_stats)

    def errors(self) -> dict[str, str]:
        """Cameras that ended without finishing (a file that could not be read), with the cause."""
        with self._lock:
            slots = list(self._slots.values())
        return {
            s.camera.id: s.runner.detail or "offline"
            for s in slots
            if s.runner is not None and s.runner.done and s.runner.status == CameraStatus.OFFLINE
        }

    def all_done(self) -> bool:
        """Every camera is done (files finished or failed) and its frames are analysed; False if none."""
        with self._lock:
            slots = list(self._slots.values())
        runners = [s.runner for s in slots if s.runner is not None]
        return (
            bool(runners)
            and all(r.done and self.inference.pending(r.camera.id) == 0 for r in runners)
            and (self.inference.idle())
        )

    # --- the runtime loop ------------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event,
        *,
        feed: CameraFeed | None = None,
        heartbeats: HeartbeatPublisher | None = None,
        exit_when_done: bool = False,
        on_all_done: Callable[[], None] | None = None,
        progress: ProgressFn | None = None,
        progress_every_s: float = 2.0,
    ) -> None:
        """Apply camera changes, publish heartbeats and progress until `stop` (or all done, if asked)."""
        last_beat = last_progress = 0.0
        reported_done = False
        while not stop.is_set():
            if feed is not None:
                for change in feed.poll(self.config.feed_poll_s):
                    self.apply(change)
            else:
                stop.wait(self.config.feed_poll_s)
            now = time.monotonic()
            if heartbeats is not None and now - last_beat >= self.config.heartbeat_every_s:
                last_beat = now
                self._beat(heartbeats)
            if progress is not None and now - last_progress >= progress_every_s:
                last_progress = now
                for stats in self.stats():
                    progress(stats)
            done = self.all_done()
            if done and not reported_done and on_all_done is not None:
                on_all_done()
            reported_done = done
            if done and exit_when_done:
                break
        if heartbeats is not None:
            self._beat(heartbeats)

    def _beat(self, heartbeats: HeartbeatPublisher) -> None:
        beat = Heartbeat(worker_id=self.worker_id, ts_ms=int(time.time() * 1000), cameras=self.health())
        try:
            heartbeats.publish(beat)
        except Exception as exc:  # health reporting must never stop analysis
            logger.warning("heartbeat not published: %s", exc)

    def close(self) -> None:
        """Stop every camera (readers first), then the detector loop once it has drained."""
        for camera_id in self.camera_ids():
            with self._lock:
                slot = self._slots.get(camera_id)
            if slot is not None and slot.runner is not None:
                slot.runner.stop(timeout_s=self.config.stall_s + 1)


def _same_stream(a: CameraConfig, b: CameraConfig) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in _STREAM_FIELDS)


def _scheme_is_live(uri: str) -> bool:
    return "://" in uri and not uri.lower().startswith("file://")
