"""One camera's reader: opens its source, feeds the shared detector, reports and recovers from failures.

State machine: starting -> online -> offline -> reconnecting -> online ... (a file: online -> finished;
a file that cannot be opened stays offline). A live source that fails (refused, 404, 401, end of stream,
no frame for `stall_s`, decode error) is reported once per outage as a `camera_offline` event with its
cause, then retried with capped exponential backoff and jitter; when it is back a `camera_online` event
carries the downtime. Every transition is one log line. The runner never raises: one camera's failure
never touches another.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from events.cameras import CameraHealth, CameraStatus, OfflineCause
from events.ports import EventPublisher
from events.schema import Event, Severity
from pipelines.camera_events import CameraOfflineAttributes, CameraOnlineAttributes
from pipelines.config import CameraConfig
from pipelines.emit import EmitContext, build_health_event
from pipelines.inference import CameraQueue, SharedInference, StreamStart
from pipelines.sources import Source, SourceError, SourceOptions, open_source

logger = logging.getLogger(__name__)


class SupervisorConfig(BaseModel):
    """Limits of the camera supervisor (env `ANFANG_SUPERVISOR__*`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stall_s: float = Field(default=5.0, gt=0, description="no frame for this long: the camera is offline")
    backoff_initial_s: float = Field(default=0.5, gt=0, description="first wait before reconnecting")
    backoff_max_s: float = Field(default=10.0, gt=0, description="longest wait between reconnects")
    backoff_jitter: float = Field(default=0.25, ge=0, le=1, description="random +/- share of each wait")
    frame_queue_max: int = Field(default=4, ge=1, description="frames per camera waiting for the detector")
    detector_batch_max: int = Field(
        default=1,
        ge=1,
        le=64,
        description="frames of different cameras per detector call (no waiting to fill a batch); "
        "1 on CPU, where batching gains nothing (docs/benchmarks.md); more on a GPU",
    )
    decode_queue_max: int = Field(default=8, ge=1, description="decoded frames buffered in GStreamer")
    rtsp_latency_ms: int = Field(default=200, ge=0, description="RTSP jitter buffer")
    heartbeat_every_s: float = Field(default=2.0, gt=0, description="worker heartbeat period")
    feed_poll_s: float = Field(default=0.5, gt=0, description="how often camera changes are looked for")


class Backoff:
    """Capped exponential backoff with jitter: initial, 2x, 4x, ... up to `max_s`, each +/- jitter."""

    def __init__(self, initial_s: float, max_s: float, jitter: float, rng: random.Random) -> None:
        self._initial_s, self._max_s, self._jitter, self._rng = initial_s, max_s, jitter, rng
        self._attempt = 0

    def next_s(self) -> float:
        base = min(self._max_s, self._initial_s * 2**self._attempt)
        self._attempt += 1
        return float(max(0.0, base * (1 + self._rng.uniform(-self._jitter, self._jitter))))

    def reset(self) -> None:
        self._attempt = 0


OpenFn = Callable[[str, SourceOptions], Source]


class CameraRunner:
    def __init__(
        self,
        camera: CameraConfig,
        ctx: EmitContext,
        inference: SharedInference,
        queue: CameraQueue,
        publisher: EventPublisher,
        config: SupervisorConfig,
        *,
        start_ts_ms: int | None = None,
        open_fn: OpenFn = open_source,
        rng: random.Random | None = None,
    ) -> None:
        self.camera = camera
        self._ctx = ctx
        self._inference = inference
        self._queue = queue
        self._publisher = publisher
        self._config = config
        self._start_ts_ms = start_ts_ms
        self._open = open_fn
        self._backoff = Backoff(
            config.backoff_initial_s, config.backoff_max_s, config.backoff_jitter, rng or random.Random()
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._source: Source | None = None
        self._thread = threading.Thread(target=self._run, name=f"camera-{camera.id}", daemon=True)
        self.status = CameraStatus.STARTING
        self.since_ts_ms = _now_ms()
        self.cause: OfflineCause | None = None
        self.detail: str | None = None
        self.reconnects = 0
        self.frames_received = 0
        self.frames_dropped_decoder = 0
        self.resolution_wh: tuple[int, int] | None = None
        self.last_frame_mono: float | None = None
        self.last_frame_ts_ms: int | None = None
        self.duration_ms: int | None = None
        self.live: bool | None = None
        self._offline_since_ms: int | None = None
        self._ever_online = False

    @property
    def queue(self) -> CameraQueue:
        return self._queue

    # --- control ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reading; a camera that was already done keeps its final state (finished, offline)."""
        was_done = self.done
        self._stop.set()
        with self._lock:
            source = self._source
        request = getattr(source, "request_stop", None)
        if callable(request):
            request()
        self._thread.join(timeout=timeout_s)
        if not was_done:
            self._set(CameraStatus.STOPPED)

    @property
    def done(self) -> bool:
        """Nothing more will come: a file that finished or could not be opened, or a stopped camera."""
        return not self._thread.is_alive() and self._thread.ident is not None

    def health(self, worker_id: str) -> CameraHealth:
        age = None if self.last_frame_mono is None else round(time.monotonic() - self.last_frame_mono, 3)
        return CameraHealth(
            camera_id=self.camera.id,
            status=self.status,
            worker_id=worker_id,
            frames_analysed=self._queue.frames_analysed,
            frames_dropped=self._queue.frames_dropped + self.frames_dropped_decoder,
            reconnects=self.reconnects,
            last_frame_age_s=age,
            resolution_wh=self.resolution_wh,
            cause=self.cause if self.status in (CameraStatus.OFFLINE, CameraStatus.RECONNECTING) else None,
            detail=self.detail if self.status in (CameraStatus.OFFLINE, CameraStatus.RECONNECTING) else None,
            since_ts_ms=self.since_ts_ms,
        )

    # --- the loop --------------------------------------------------------------------------------
    def _options(self) -> SourceOptions:
        c = self._config
        return SourceOptions(
            queue_max=c.decode_queue_max,
            stall_s=c.stall_s,
            analysis_fps=self.camera.analysis_fps,
            rtsp_latency_ms=c.rtsp_latency_ms,
            rtsp_transport=self.camera.rtsp_transport,
            live=self.camera.live,
        )

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._ever_online or self._offline_since_ms is not None:
                    self._set(CameraStatus.RECONNECTING)
                if self._attempt():
                    return  # a file that ended, or stopped
                if self.live is False:
                    return  # a file that cannot be read is not retried
                self._stop.wait(self._backoff.next_s())
        except Exception:  # never let a camera thread die silently
            logger.exception("%s: reader stopped by an unexpected error", self.camera.id)
            self._set(CameraStatus.OFFLINE)

    def _attempt(self) -> bool:
        """One connection: True when the camera is done (file finished or stop), False to retry."""
        try:
            source = self._open(self.camera.uri, self._options())
        except SourceError as exc:
            self.live = _is_live(self.camera)
            if self._stop.is_set():
                return True
            self._offline(exc)
            return False
        with self._lock:
            self._source = source
        try:
            self.live, self.resolution_wh, self.duration_ms = (
                source.live,
                source.resolution_wh,
                source.duration_ms,
            )
            return self._stream(source)
        except SourceError as exc:
            if self._stop.is_set():
                return True
            self._offline(exc)
            return False
        finally:
            with self._lock:
                self._source = None
            self.frames_dropped_decoder += source.frames_dropped
            source.close()

    def _stream(self, source: Source) -> bool:
        started = False
        for frame in source:
            if self._stop.is_set():
                return True
            now_ms = _now_ms()
            if not started:
                started = True
                base_ts_ms = self._base_ts_ms(now_ms, frame.pts_ms, source.live)
                fps = min(r for r in (self.camera.analysis_fps, source.fps, 1000.0) if r)
                self._inference.put(self._queue, StreamStart(source.resolution_wh, fps, base_ts_ms))
                self._online()
            self.frames_received += 1
            self.last_frame_mono = time.monotonic()
            self.last_frame_ts_ms = now_ms
            if not self._inference.put(self._queue, frame, self._stop):
                return True
        if self._stop.is_set():
            return True
        if not started:
            raise SourceError("no frame before the end of the stream", OfflineCause.DECODE_ERROR)
        if source.live:  # GstSource raises on a live EOS; a source that just ends is a failure too
            raise SourceError("stream ended", OfflineCause.STREAM_ENDED)
        self._set(CameraStatus.FINISHED)
        logger.info("%s: finished (%d frames)", self.camera.id, self.frames_received)
        return True

    def _base_ts_ms(self, now_ms: int, first_pts_ms: int, live: bool) -> int:
        if not live and self._start_ts_ms is not None:
            return self._start_ts_ms  # a replayed recording: deterministic times
        return now_ms - first_pts_ms

    # --- transitions -----------------------------------------------------------------------------
    def _set(self, status: CameraStatus) -> None:
        if status != self.status:
            self.status = status
            self.since_ts_ms = _now_ms()

    def _online(self) -> None:
        now_ms = _now_ms()
        downtime_s = None
        if self._offline_since_ms is not None:
            downtime_s = round(max(0, now_ms - self._offline_since_ms) / 1000, 3)
        if self._ever_online:
            self.reconnects += 1
        self._ever_online = True
        self._offline_since_ms = None
        self._backoff.reset()
        self.cause = self.detail = None
        self._set(CameraStatus.ONLINE)
        logger.info(
            "%s: online %dx%d%s",
            self.camera.id,
            *(self.resolution_wh or (0, 0)),
            "" if downtime_s is None else f" after {downtime_s:.1f} s offline",
        )
        attrs = CameraOnlineAttributes(downtime_s=downtime_s, resolution_wh=self.resolution_wh)
        self._publish(build_health_event(self._ctx, now_ms, attrs, Severity.INFO, alert=False))

    def _offline(self, exc: SourceError) -> None:
        now_ms = _now_ms()
        first_report = self._offline_since_ms is None
        self.cause, self.detail = exc.cause, str(exc)[:500]
        self._set(CameraStatus.OFFLINE)
        if not first_report:
            logger.debug("%s: still offline (%s): %s", self.camera.id, exc.cause.value, exc)
            return
        self._offline_since_ms = now_ms
        logger.warning("%s: offline (%s): %s", self.camera.id, exc.cause.value, exc)
        attrs = CameraOfflineAttributes(
            cause=exc.cause.value, detail=self.detail, last_frame_ts_ms=self.last_frame_ts_ms
        )
        event = build_health_event(
            self._ctx, now_ms, attrs, self.camera.offline_severity, alert=self.camera.offline_alert
        )
        self._publish(event)

    def _publish(self, event: Event) -> None:
        try:
            self._publisher.publish(event)
            self._queue.worker.count([event])
        except Exception as exc:  # the bus being down must not kill the reader
            logger.error("%s: cannot publish %s: %s", self.camera.id, event.type, exc)


def _is_live(camera: CameraConfig) -> bool:
    if camera.live is not None:
        return camera.live
    return "://" in camera.uri and not camera.uri.lower().startswith("file://")


def _now_ms() -> int:
    return int(time.time() * 1000)
