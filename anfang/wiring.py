"""The composition root: the one place that picks implementations and wires them together.

Embedded (default): in-process bus + chDB under the data folder, all in one process.
Distributed: Kafka broker + ClickHouse server; `pipeline`, `sink` and `api` run as separate processes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from anfang.settings import Settings
from detectors.base import Detector
from detectors.registry import build_detector
from events.ports import BusError, EventConsumer, EventPublisher, EventStore
from pipelines.config import AppConfig, CameraConfig
from pipelines.emit import EmitContext
from pipelines.evidence import EvidenceError, SnapshotWriter
from pipelines.sources import SourceError, open_source
from pipelines.worker import CameraStats, CameraWorker

if TYPE_CHECKING:
    from events.bus.kafka_bus import KafkaDeadLetterPublisher

logger = logging.getLogger(__name__)


def make_store(settings: Settings) -> EventStore:
    store: EventStore
    if settings.mode == "embedded":
        from events.store.chdb_store import ChdbStore

        store = ChdbStore(settings.data_dir / "chdb")
    else:
        from events.store.clickhouse_store import ClickHouseStore

        store = ClickHouseStore(
            host=settings.clickhouse_host,
            port=settings.clickhouse_port,
            database=settings.clickhouse_database,
            user=settings.clickhouse_user,
            password=settings.clickhouse_password,
            connect_timeout_s=settings.connect_timeout_s,
        )
    store.ensure_schema()
    return store


def _ensure_topics(settings: Settings) -> None:
    from events.bus.kafka_bus import ensure_topics

    ensure_topics(
        settings.kafka_bootstrap,
        settings.kafka_partitions,
        topics=(settings.kafka_events_topic, settings.kafka_dlq_topic),
        timeout_s=settings.connect_timeout_s,
    )


def make_kafka_publisher(settings: Settings) -> EventPublisher:
    from events.bus.kafka_bus import KafkaPublisher

    _ensure_topics(settings)
    return KafkaPublisher(
        settings.kafka_bootstrap,
        topic=settings.kafka_events_topic,
        client_id=f"anfang-pipeline-{settings.worker_id}",
        timeout_s=settings.connect_timeout_s,
    )


def make_kafka_consumer(settings: Settings) -> tuple[EventConsumer, KafkaDeadLetterPublisher]:
    """The sink's consumer and where the messages it cannot parse go (the DLQ topic)."""
    from events.bus.kafka_bus import KafkaDeadLetterPublisher, KafkaEventConsumer

    _ensure_topics(settings)
    consumer = KafkaEventConsumer(
        settings.kafka_bootstrap,
        group_id=settings.kafka_group_id,
        topic=settings.kafka_events_topic,
        timeout_s=settings.connect_timeout_s,
    )
    return consumer, KafkaDeadLetterPublisher(settings.kafka_bootstrap, topic=settings.kafka_dlq_topic)


def start_embedded_sink(store: EventStore, settings: Settings) -> tuple[EventPublisher, Callable[[], None]]:
    """Embedded delivery: an in-process bus whose sink thread stores into `store`.

    Returns the publisher and a function that stops the sink once it has drained the bus.
    """
    from events.bus.inproc import InProcessBus
    from events.sink import run_sink

    bus = InProcessBus(settings.bus_queue_max)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_sink,
        kwargs={
            "consumer": bus.consumer(),
            "store": store,
            "batch_max": settings.sink_batch_max,
            "batch_wait_s": settings.sink_batch_wait_s,
            "stop": stop,
        },
        name="sink",
        daemon=True,
    )
    thread.start()

    def drain_and_stop() -> None:
        stop.set()
        thread.join(timeout=settings.flush_timeout_s)

    return bus.publisher(), drain_and_stop


def make_detector(config: AppConfig, settings: Settings) -> Detector:
    return build_detector(config.detector, settings.data_dir)


@dataclass(slots=True)
class RunResult:
    stats: list[CameraStats] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _progress(stats: CameraStats) -> None:
    done, eta_s = stats.done_fraction, stats.eta_s
    where = f" ({done:.0%}, ETA {eta_s:.0f} s)" if done is not None and eta_s is not None else ""
    logger.info(
        "%s: %d frames%s, %.1f FPS, %d events (%d alerts)",
        stats.camera_id,
        stats.frames,
        where,
        stats.fps,
        stats.events,
        stats.alerts,
    )


def run_cameras(
    config: AppConfig,
    settings: Settings,
    publisher: EventPublisher,
    detector_factory: Callable[[], Detector],
    stop: threading.Event,
    start_ts_ms: int | None = None,
) -> RunResult:
    """One thread per camera; returns when every stream ends (files) or `stop` is set."""
    result = RunResult()
    snapshots = SnapshotWriter(settings.data_dir, config.snapshots)
    lock = threading.Lock()

    def run_one(camera: CameraConfig, detector: Detector) -> None:
        ctx = EmitContext(
            camera_id=camera.id,
            site_id=config.site_id,
            worker_id=settings.worker_id,
            model=detector.model,
            rules={r.id: r for r in camera.rules},
        )
        worker = CameraWorker(camera, ctx, detector, config.tracker, publisher, snapshots)
        try:
            with open_source(
                camera.uri, queue_max=settings.frame_queue_max, analysis_fps=camera.analysis_fps
            ) as source:
                worker.start_stream(source.resolution_wh, _analysed_fps(camera.analysis_fps, source.fps))
                base_ts_ms = start_ts_ms if start_ts_ms is not None else int(time.time() * 1000)
                worker.stats.duration_ms = source.duration_ms
                worker.run(source, base_ts_ms, stop, _progress, settings.progress_every_s)
        except (SourceError, BusError, EvidenceError) as exc:  # user-facing causes: one line each
            logger.error("%s: %s", camera.id, exc)
            with lock:
                result.errors[camera.id] = str(exc)
        except Exception as exc:  # a camera must never take the others down
            logger.exception("%s: stopped by an unexpected error", camera.id)
            with lock:
                result.errors[camera.id] = f"unexpected error: {exc}"
        with lock:
            result.stats.append(worker.stats)

    # Detectors are built up front so a bad model path fails before any stream opens.
    detectors = [detector_factory() for _ in config.cameras]
    threads = [
        threading.Thread(target=run_one, args=(cam, det), name=f"camera-{cam.id}", daemon=True)
        for cam, det in zip(config.cameras, detectors, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(timeout=0.5)
    return result


def _analysed_fps(analysis_fps: float | None, source_fps: float | None) -> float:
    """Frames per second the tracker really sees: the analysis rate, never above the stream's."""
    rates = [r for r in (analysis_fps, source_fps) if r]
    return min(rates) if rates else 10.0


def summarise(result: RunResult, elapsed_s: float) -> list[str]:
    lines = []
    for s in sorted(result.stats, key=lambda s: s.camera_id):
        by_type = ", ".join(f"{k}={v}" for k, v in sorted(s.events_by_type.items())) or "none"
        lines.append(
            f"{s.camera_id}: {s.frames} frames in {s.wall_s:.1f} s = {s.fps:.1f} analysed FPS; "
            f"{s.detections} detections; events: {by_type}; alerts: {s.alerts}"
        )
    for cam, err in sorted(result.errors.items()):
        lines.append(f"{cam}: FAILED: {err}")
    lines.append(f"total: {sum(s.events for s in result.stats)} events in {elapsed_s:.1f} s")
    return lines
