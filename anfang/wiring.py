"""The composition root: the one place that picks implementations and wires them together.

Embedded (default): in-process bus + chDB under the data folder, all in one process.
Distributed: Kafka broker + ClickHouse server; `pipeline`, `sink` and `api` run as separate processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from anfang.face_wiring import FaceParts
from anfang.reader_wiring import ReaderParts
from anfang.settings import Settings
from api.schemas import EventTypeOut
from api.sensor_services import SensorService
from detectors.base import Detector
from detectors.registry import build_detector
from events.cameras import (
    CameraFeed,
    CameraRegistry,
    CameraSpec,
    CameraSpecError,
    HealthView,
    HeartbeatPublisher,
)
from events.ports import EventConsumer, EventPublisher, EventStore
from events.schema import event_json_schema
from events.sensors import SensorReadingStore, SensorRegistry
from pipelines.config import AppConfig, CameraConfig
from pipelines.event_kinds import EVENT_KINDS
from pipelines.evidence import SnapshotWriter
from pipelines.inference import SharedInference
from pipelines.sensors.hub import EmbeddedSensorHub, SensorHub
from pipelines.sensors.runner import SensorRound
from pipelines.supervisor import CameraSupervisor
from pipelines.worker import CameraStats

if TYPE_CHECKING:
    from events.bus.kafka_bus import KafkaDeadLetterPublisher
    from events.registry.inproc_health import InProcessHealth
    from events.store.chdb_store import ChdbStore
    from events.store.clickhouse_store import ClickHouseStore

logger = logging.getLogger(__name__)


def make_store(settings: Settings) -> EventStore:
    """The store, its tables created when missing."""
    store = open_store(settings)
    store.ensure_schema()
    return store


def open_store(settings: Settings) -> ChdbStore | ClickHouseStore:
    """The store the services use (chDB under the data folder, or the ClickHouse server), as it is."""
    store: ChdbStore | ClickHouseStore
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
    return store


def _ensure_topics(settings: Settings) -> None:
    from events.bus.kafka_bus import ensure_topics

    ensure_topics(
        settings.kafka_bootstrap,
        settings.kafka_partitions,
        topics=(settings.kafka_events_topic, settings.kafka_dlq_topic, settings.kafka_health_topic),
        timeout_s=settings.connect_timeout_s,
    )
    ensure_topics(
        settings.kafka_bootstrap,
        settings.kafka_cameras_partitions,
        topics=(settings.kafka_cameras_topic,),
        timeout_s=settings.connect_timeout_s,
        compacted=(settings.kafka_cameras_topic,),
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


# --- cameras: registry, feed, health -------------------------------------------------------------


def validate_camera(spec: CameraSpec) -> CameraSpec:
    """The API's camera validation: the pipeline's own model; the normalised spec as JSON."""
    try:
        camera = CameraConfig.model_validate(spec)
    except ValidationError as exc:
        errors = [
            {"loc": tuple(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False)
        ]
        raise CameraSpecError(f"invalid camera: {errors[0]['msg']}", errors) from exc
    return camera.model_dump(mode="json")


def camera_json_schema() -> dict[str, Any]:
    return CameraConfig.model_json_schema()


def event_types_for_api() -> list[EventTypeOut]:
    """Every event type the pipeline produces, as the API lists them (titles, attribute schemas)."""
    return [
        EventTypeOut(type=k.event_type, title=k.title, attributes_schema=k.attributes.model_json_schema())
        for k in EVENT_KINDS
    ]


def published_event_schema() -> dict[str, Any]:
    """The Event JSON Schema with every known type's attributes (what `anfang schema` writes)."""
    return event_json_schema([k.attributes for k in EVENT_KINDS])


def make_registry(settings: Settings) -> CameraRegistry:
    """Embedded: a JSON file in the data folder; distributed: the compacted cameras topic."""
    if settings.mode == "embedded":
        from events.registry.file_registry import FileCameraRegistry

        return FileCameraRegistry(settings.data_dir / "cameras.json")
    from events.bus.kafka_cameras import KafkaCameraRegistry

    _ensure_topics(settings)
    return KafkaCameraRegistry(
        settings.kafka_bootstrap, topic=settings.kafka_cameras_topic, timeout_s=settings.connect_timeout_s
    )


def seed_registry(registry: CameraRegistry, config: AppConfig, *, reseed: bool = False) -> int:
    """The YAML's cameras go into an empty registry (or over it, with `reseed`); returns how many."""
    if registry.list() and not reseed:
        logger.info(
            "cameras come from the registry (%d); the YAML seeds only an empty one (--reseed to overwrite)",
            len(registry.list()),
        )
        return 0
    for camera in config.cameras:
        registry.put(camera.model_dump(mode="json"))
    logger.info("camera registry seeded with %d camera(s) from the config", len(config.cameras))
    return len(config.cameras)


def make_worker_feed(settings: Settings, registry: CameraRegistry) -> CameraFeed:
    """What this worker runs: every camera (embedded) or its share through the consumer group."""
    if settings.mode == "embedded":
        from events.registry.file_registry import FileCameraRegistry

        assert isinstance(registry, FileCameraRegistry)
        return registry.feed()
    from events.bus.kafka_camera_feed import KafkaCameraFeed

    return KafkaCameraFeed(
        settings.kafka_bootstrap,
        group_id=settings.kafka_workers_group,
        topic=settings.kafka_cameras_topic,
        client_id=f"anfang-worker-{settings.worker_id}",
        timeout_s=settings.connect_timeout_s,
    )


def make_heartbeat_publisher(settings: Settings) -> HeartbeatPublisher:
    from events.bus.kafka_health import KafkaHeartbeatPublisher

    return KafkaHeartbeatPublisher(
        settings.kafka_bootstrap, topic=settings.kafka_health_topic, timeout_s=settings.connect_timeout_s
    )


def make_health_view(settings: Settings) -> HealthView:
    from events.bus.kafka_health import KafkaHealthView

    return KafkaHealthView(
        settings.kafka_bootstrap,
        topic=settings.kafka_health_topic,
        stale_after_s=settings.health_stale_after_s,
        timeout_s=settings.connect_timeout_s,
    )


def make_inprocess_health(settings: Settings) -> InProcessHealth:
    from events.registry.inproc_health import InProcessHealth

    return InProcessHealth(stale_after_s=settings.health_stale_after_s)


def build_supervisor(
    config: AppConfig,
    settings: Settings,
    publisher: EventPublisher,
    detector: Detector,
    start_ts_ms: int | None,
    faces: FaceParts,
    readers: ReaderParts,
) -> CameraSupervisor:
    return CameraSupervisor(
        inference=SharedInference(detector, batch_max=settings.supervisor.detector_batch_max),
        tracker_config=config.tracker,
        publisher=publisher,
        snapshots=SnapshotWriter(settings.data_dir, config.snapshots, face_finder=faces.runtime.find_faces),
        recognizers={**faces.recognizers(), **readers.runtime.factories()},
        site_id=config.site_id,
        worker_id=settings.worker_id,
        config=settings.supervisor,
        start_ts_ms=start_ts_ms,
    )


def log_progress(stats: CameraStats) -> None:
    done, eta_s = stats.done_fraction, stats.eta_s
    where = f" ({done:.0%}, ETA {eta_s:.0f} s)" if done is not None and eta_s is not None else ""
    logger.info(
        "%s: %d frames%s, %.1f FPS, detector on %d (%.0f %% gated), %d events (%d alerts)",
        stats.camera_id,
        stats.frames,
        where,
        stats.fps,
        stats.detector_calls,
        100 * stats.gated_share,
        stats.events,
        stats.alerts,
    )


def summarise(stats: list[CameraStats], errors: dict[str, str], elapsed_s: float) -> list[str]:
    lines = []
    for s in sorted(stats, key=lambda s: s.camera_id):
        by_type = ", ".join(f"{k}={v}" for k, v in sorted(s.events_by_type.items())) or "none"
        lines.append(
            f"{s.camera_id}: {s.frames} frames in {s.wall_s:.1f} s = {s.fps:.1f} analysed FPS; "
            f"detector on {s.detector_calls} ({100 * s.gated_share:.0f} % gated); "
            f"{s.detections} detections; events: {by_type}; alerts: {s.alerts}"
        )
    for cam, err in sorted(errors.items()):
        lines.append(f"{cam}: FAILED: {err}")
    lines.append(f"total: {sum(s.events for s in stats)} events in {elapsed_s:.1f} s")
    return lines


# --- sensors: registry, readings, the hub ---------------------------------------------------------


@dataclass
class SensorRuntime:
    """What a process serves of the sensors: the registry, the API's service, and (embedded) the hub."""

    registry: SensorRegistry
    service: SensorService
    hub: EmbeddedSensorHub | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def tee(self, publisher: EventPublisher) -> EventPublisher:
        """The pipeline's publisher, also showing its events to the hub (fusion) when there is one."""
        return publisher if self.hub is None else self.hub.tee(publisher)

    def close(self) -> None:
        if self.hub is not None:
            self.hub.stop()
        for close in reversed(self.closers):
            close()
        self.registry.close()


def _ensure_sensor_topics(settings: Settings) -> None:
    from events.bus.kafka_bus import ensure_topics

    ensure_topics(
        settings.kafka_bootstrap,
        settings.kafka_partitions,
        topics=(settings.kafka_sensors_topic, settings.kafka_sensor_registry_topic),
        timeout_s=settings.connect_timeout_s,
        compacted=(settings.kafka_sensor_registry_topic,),
    )


def make_sensor_registry(settings: Settings) -> SensorRegistry:
    """Embedded: `sensors.json` in the data folder; distributed: the compacted sensor-registry topic."""
    if settings.mode == "embedded":
        from events.registry.file_registry import FileCameraRegistry

        return SensorRegistry(FileCameraRegistry(settings.data_dir / "sensors.json"))
    from events.bus.kafka_sensors import sensor_registry_backend

    _ensure_sensor_topics(settings)
    backend = sensor_registry_backend(
        settings.kafka_bootstrap, settings.kafka_sensor_registry_topic, timeout_s=settings.connect_timeout_s
    )
    return SensorRegistry(backend)


def seed_sensors(registry: SensorRegistry, config: AppConfig, *, reseed: bool = False) -> int:
    """The YAML's sensors go into an empty registry (or over it, with `reseed`); returns how many."""
    if not config.sensors or (registry.list() and not reseed):
        return 0
    for spec in config.sensors:
        registry.put(spec)
    logger.info("sensor registry seeded with %d sensor(s) from the config", len(config.sensors))
    return len(config.sensors)


def _reading_store(store: EventStore) -> SensorReadingStore:
    if not isinstance(store, SensorReadingStore):
        raise TypeError(f"{type(store).__name__} cannot store sensor readings")
    return store


def start_sensors(
    settings: Settings, store: EventStore, config: AppConfig | None = None, *, reseed: bool = False
) -> SensorRuntime:
    """Embedded: the hub runs in this process (its events go through an in-process sink of their own)
    and the API's readings go to it; distributed: the API's readings go to the readings topic."""
    registry = make_sensor_registry(settings)
    if config is not None:
        seed_sensors(registry, config, reseed=reseed)
    readings = _reading_store(store)
    limits = settings.sensors.ingest
    if settings.mode == "distributed":
        from events.bus.kafka_sensors import KafkaReadingPublisher

        sink = KafkaReadingPublisher(
            settings.kafka_bootstrap, settings.kafka_sensors_topic, timeout_s=settings.connect_timeout_s
        )
        service = SensorService(registry, sink=sink, readings=readings, limits=limits)
        return SensorRuntime(registry, service, closers=[sink.close])
    publisher, stop_sink = start_embedded_sink(store, settings)
    hub = EmbeddedSensorHub(SensorHub(registry, publisher, settings.sensors, settings.worker_id), readings)
    hub.start()
    service = SensorService(registry, sink=hub, readings=readings, limits=limits)
    return SensorRuntime(registry, service, hub, closers=[stop_sink])


def build_sensor_round(settings: Settings, registry: SensorRegistry, store: EventStore) -> SensorRound:
    """Distributed `anfang sensors`: readings and events consumers, DLQ, events publisher."""
    from events.bus.kafka_bus import KafkaDeadLetterPublisher, KafkaEventConsumer, KafkaPublisher
    from events.bus.kafka_sensors import KafkaReadingConsumer

    _ensure_topics(settings)
    _ensure_sensor_topics(settings)
    timeout_s = settings.connect_timeout_s
    publisher = KafkaPublisher(
        settings.kafka_bootstrap,
        settings.kafka_events_topic,
        f"anfang-sensors-{settings.worker_id}",
        timeout_s,
    )
    hub = SensorHub(registry, publisher, settings.sensors, settings.worker_id)
    readings = KafkaReadingConsumer(
        settings.kafka_bootstrap,
        settings.kafka_sensors_group,
        settings.kafka_sensors_topic,
        timeout_s=timeout_s,
    )
    events = None
    if settings.sensors.fusion.enabled:
        events = KafkaEventConsumer(
            settings.kafka_bootstrap,
            settings.kafka_fusion_group,
            settings.kafka_events_topic,
            client_id="anfang-fusion",
            timeout_s=timeout_s,
        )
    dead = KafkaDeadLetterPublisher(settings.kafka_bootstrap, settings.kafka_dlq_topic, timeout_s=timeout_s)
    return SensorRound(hub, readings, _reading_store(store), events=events, dead_letters=dead)
