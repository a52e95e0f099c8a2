"""One camera's analysis: detections -> track -> rules -> evidence -> events -> bus, and its counters.

Every part is injected, so tests and the benchmark drive it with the real detector on real frames and
the composition root wires it to the real bus. The frame loop lives in `pipelines.inference`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from detectors.base import Detections, Detector, FrameBGR
from events.ports import EventPublisher
from events.schema import Event
from pipelines.analytics.base import FrameContext, armed
from pipelines.analytics.engine import RuleEngine
from pipelines.config import CameraConfig, TrackerConfig
from pipelines.emit import EmitContext, build_event, event_id_for
from pipelines.evidence import SnapshotWriter
from pipelines.recognition.stage import Recognitions, RecognitionStage, RecognizerFactory, StageFrame
from pipelines.tracking import Tracker

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class CameraStats:
    camera_id: str
    frames: int = 0
    detections: int = 0
    #: frames the detector ran on, and frames motion gating spared it
    detector_calls: int = 0
    frames_gated: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    busy_s: float = 0.0
    wall_s: float = 0.0
    position_ms: int = 0
    duration_ms: int | None = None

    @property
    def events(self) -> int:
        return sum(self.events_by_type.values())

    @property
    def gated_share(self) -> float:
        return self.frames_gated / self.frames if self.frames else 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def done_fraction(self) -> float | None:
        """How far through a file we are (None for live streams)."""
        if not self.duration_ms:
            return None
        return min(1.0, self.position_ms / self.duration_ms)

    @property
    def eta_s(self) -> float | None:
        done = self.done_fraction
        if done is None or done <= 0 or self.wall_s <= 0:
            return None
        return self.wall_s * (1 - done) / done


ProgressFn = Callable[[CameraStats], None]


class CameraWorker:
    """Analyses one camera's frames after detection: track -> rules -> evidence -> events -> bus.

    The shared detector (`pipelines.inference`) calls `analyse` with a frame and its detections;
    `process` detects with the worker's own detector first (benchmarks, single-camera tools).
    Not thread-safe: one thread (the inference loop) drives a worker.
    """

    def __init__(
        self,
        camera: CameraConfig,
        ctx: EmitContext,
        tracker_config: TrackerConfig,
        publisher: EventPublisher,
        snapshots: SnapshotWriter | None,
        detector: Detector | None = None,
        recognizers: Mapping[str, RecognizerFactory] | None = None,
    ) -> None:
        self.camera = camera
        self._recognizer_factories = dict(recognizers or {})
        self._stage: RecognitionStage | None = None
        self._ctx = ctx
        self._detector = detector
        self._tracker_config = tracker_config
        self._publisher = publisher
        self._snapshots = snapshots
        self._engine: RuleEngine | None = None
        self._tracker: Tracker | None = None
        self._resolution_wh: tuple[int, int] | None = None
        self.stats = CameraStats(camera_id=camera.id)

    def start_stream(self, resolution_wh: tuple[int, int], fps: float) -> None:
        """(Re)build the per-stream state: rules in pixels, a fresh tracker (also after a reconnect)."""
        self._resolution_wh = resolution_wh
        self._engine = RuleEngine.for_camera(self.camera, resolution_wh)
        self._tracker = Tracker(self._tracker_config, fps)
        self._stage = self._build_stage()

    def reconfigure(self, camera: CameraConfig, ctx: EmitContext) -> None:
        """New zones, lines or rules for the same stream: the tracker and its ids are kept, and so is the
        state of unchanged rules and recognisers (`RuleEngine.reconfigured`)."""
        old, self.camera, self._ctx = self.camera, camera, ctx
        if self._engine is not None and self._resolution_wh is not None:  # else start_stream builds them
            self._engine = self._engine.reconfigured(old, camera, self._resolution_wh)
            self._stage = self._build_stage(previous=self._stage)

    def _build_stage(self, previous: RecognitionStage | None = None) -> RecognitionStage | None:
        """The recognisers the camera's rules read (none: no stage, no cost)."""
        return RecognitionStage.for_rules(
            self.camera.id, self.camera.rules, self._recognizer_factories, previous=previous
        )

    def _recognise(self, image_bgr: FrameBGR, tracked: Detections, ts_ms: int) -> Recognitions:
        """The stage's results on this frame, when a rule reading them is armed."""
        if self._stage is None:
            return Recognitions()
        if not any(r.recognizers and armed(r, ts_ms) for r in self.camera.rules):
            return Recognitions()
        return self._stage.run(StageFrame(self.camera.id, ts_ms, image_bgr, tracked))

    def process(self, image_bgr: FrameBGR, ts_ms: int, pts_ms: int | None = None) -> list[Event]:
        """Detect with this worker's own detector, then `analyse`."""
        if self._detector is None:
            raise RuntimeError("this CameraWorker has no detector of its own: call analyse()")
        return self.analyse(image_bgr, self._detector.detect(image_bgr), ts_ms, pts_ms)

    def analyse(
        self, image_bgr: FrameBGR, detections: Detections, ts_ms: int, pts_ms: int | None = None
    ) -> list[Event]:
        if self._engine is None or self._tracker is None or self._resolution_wh is None:
            h, w = image_bgr.shape[:2]
            self.start_stream((w, h), self.camera.analysis_fps or 10.0)
        assert self._engine is not None and self._tracker is not None and self._resolution_wh is not None
        tracked = self._tracker.update(detections, pts_ms)
        recognitions = self._recognise(image_bgr, tracked, ts_ms)
        ctx = FrameContext(
            ts_ms, tracked, detections, self._resolution_wh, lambda: image_bgr, recognitions=recognitions
        )
        findings = self._engine.evaluate(ctx)
        events: list[Event] = []
        for finding in findings:
            snapshot = None
            if self._snapshots is not None and self._snapshots.enabled:
                snapshot = self._snapshots.write(
                    image_bgr,
                    camera_id=self.camera.id,
                    event_id=event_id_for(self._ctx, finding, ts_ms),
                    ts_ms=ts_ms,
                    xyxy=finding.xyxy,
                    caption=f"{finding.rule_id} #{finding.track_id}",
                    privacy=self.camera.privacy,
                    reveal_xyxy=finding.reveal_xyxy,
                    face_hints=recognitions.face_boxes_xyxy,
                    person_boxes=[tuple(map(float, b)) for b in tracked.xyxy.tolist()],  # type: ignore[misc]
                )
            event = build_event(self._ctx, finding, ts_ms, self._resolution_wh, snapshot)
            self._publisher.publish(event)
            events.append(event)
        self.stats.frames += 1
        self.stats.detections += len(detections)
        self.count(events)
        return events

    def count(self, events: list[Event]) -> None:
        for event in events:
            self.stats.events_by_type[event.type] += 1
            self.stats.alerts += int(event.alert)
