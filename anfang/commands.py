"""The process entry points: demo (embedded, all in one), pipeline, sink and api (distributed)."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from anfang.api_wiring import ApiServices, announce_demo_sign_in, build_api_services
from anfang.face_wiring import FaceParts, start_faces
from anfang.reader_wiring import ReaderParts, start_readers
from anfang.settings import Settings
from anfang.wiring import (
    build_supervisor,
    camera_json_schema,
    event_types_for_api,
    log_progress,
    make_detector,
    make_health_view,
    make_heartbeat_publisher,
    make_inprocess_health,
    make_kafka_consumer,
    make_kafka_publisher,
    make_registry,
    make_store,
    make_worker_feed,
    seed_registry,
    start_embedded_sink,
    start_sensors,
    summarise,
    validate_camera,
)
from api.access_log import install_token_redaction
from api.sensor_services import SensorService
from events.bus.broadcast import BroadcastingPublisher, EventBroadcaster
from events.cameras import CameraFeed, CameraRegistry, HealthView, HeartbeatPublisher
from events.ports import EventPublisher, EventQuery, EventStore
from pipelines.config import AppConfig, load_config

logger = logging.getLogger(__name__)


class UsageError(RuntimeError):
    """A user-facing problem with how anfang was started (port taken, ...)."""


def stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s: stopping (finishing what is in flight)", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot serve the API on {host}:{port}: {exc.strerror} (use --port)") from exc


@dataclass(slots=True)
class ApiParts:
    """What the API serves besides the store: cameras, their health, readiness checks."""

    cameras: CameraRegistry | None = None
    health: HealthView | None = None
    readiness: dict[str, Callable[[], str | None]] = field(default_factory=dict)
    sensors: SensorService | None = None
    services: ApiServices | None = None  # sign-in, audit, alert state, live feed
    sink_lag: Callable[[], int] | None = None  # events published, not yet stored (/metrics)


class ApiServer:
    """uvicorn in a background thread, so the API serves while the pipeline runs."""

    def __init__(self, store: EventStore, settings: Settings, parts: ApiParts | None = None) -> None:
        import uvicorn

        from api.app import create_app

        host, port = settings.api_host, settings.api_port
        _check_port_free(host, port)
        parts = parts or ApiParts()
        app = create_app(
            store,
            settings.data_dir,
            config=settings.api,
            cameras=parts.cameras,
            health=parts.health,
            validate_camera=validate_camera,
            camera_schema=camera_json_schema(),
            readiness_checks={"store": lambda: _store_error(store), **parts.readiness},
            event_types=event_types_for_api(),
            sensors=parts.sensors,
            sink_lag=parts.sink_lag,
            **(parts.services.app_kwargs() if parts.services is not None else {}),
        )
        # permessage-deflate costs the live feed half its throughput for small JSON frames
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws_per_message_deflate=False)
        install_token_redaction()  # after uvicorn configured its loggers: no ?token= in any log line
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        logger.info("API and console at %s", self.url)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def _store_error(store: EventStore) -> str | None:
    try:
        store.query(EventQuery(limit=1))
    except Exception as exc:  # readiness reports any failure
        return f"{type(exc).__name__}: {exc}"
    return None


def _load(settings: Settings) -> AppConfig:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return load_config(settings.config_path)


def _run_supervised(
    config: AppConfig,
    settings: Settings,
    publisher: EventPublisher,
    feed: CameraFeed,
    heartbeats: HeartbeatPublisher | None,
    stop: threading.Event,
    *,
    start_ts_ms: int | None,
    once: bool,
    faces: FaceParts,
    readers: ReaderParts,
) -> int:
    """Run this worker's cameras until `stop` (or, with `once`, until they are all done); log a summary."""
    detector = make_detector(config, settings)  # a bad model fails before any stream opens
    supervisor = build_supervisor(config, settings, publisher, detector, start_ts_ms, faces, readers)
    started = time.monotonic()
    supervisor.inference.start()

    def all_done() -> None:
        if not once:
            logger.info(
                "every camera is done; still running (cameras can be added through the API; Ctrl-C to quit)"
            )

    try:
        supervisor.run(
            stop,
            feed=feed,
            heartbeats=heartbeats,
            exit_when_done=once,
            on_all_done=all_done,
            progress=log_progress,
            progress_every_s=settings.progress_every_s,
        )
    finally:
        supervisor.close()
        supervisor.inference.stop(timeout_s=settings.flush_timeout_s)
        feed.close()
        publisher.flush(timeout_s=settings.flush_timeout_s)
    errors = supervisor.errors()
    for line in summarise(supervisor.stats(), errors, time.monotonic() - started):
        logger.info("%s", line)
    return 1 if errors else 0


def demo(settings: Settings, *, once: bool, start_ts_ms: int | None, reseed: bool = False) -> int:
    """Embedded: in-process bus + chDB; pipeline, sink and API in this one process."""
    config = _load(settings)
    stop = threading.Event()
    stop_on_signals(stop)
    store = make_store(settings)
    registry = make_registry(settings)
    seed_registry(registry, config, reseed=reseed)
    health = make_inprocess_health(settings)
    sensors = start_sensors(settings, store, config, reseed=reseed)
    broadcaster = EventBroadcaster()
    faces, readers = start_faces(settings, store), start_readers(settings, store)
    services = None
    if not once:
        services = build_api_services(
            settings,
            store,
            process="demo",
            registry=registry,
            broadcaster=broadcaster,
            faces=faces,
            readers=readers,
        )
    bus_publisher, stop_sink = start_embedded_sink(store, settings)
    parts = ApiParts(
        cameras=registry,
        health=health,
        sensors=sensors.service,
        services=services,
        sink_lag=_uncommitted(bus_publisher),
    )
    try:
        api = (
            None if once else _api_server_or_close(store, settings, parts, _closing(sensors.close, services))
        )
    except BaseException:
        stop_sink()
        raise
    publisher = BroadcastingPublisher(bus_publisher, broadcaster)  # the live feed sees what the bus gets
    if api is not None and services is not None:
        api.start()
        announce_demo_sign_in(services, api.url)
    try:
        code = _run_supervised(
            config,
            settings,
            sensors.tee(publisher),
            make_worker_feed(settings, registry),
            health,
            stop,
            start_ts_ms=start_ts_ms,
            once=once,
            faces=faces,
            readers=readers,
        )
    finally:
        stop_sink()
        sensors.close()
        faces.close()
        readers.close()
    logger.info("stored: %s", store.count_by_type())
    if api is not None:
        api.stop()
    if services is not None:
        services.close()
    registry.close()
    store.close()
    return code


def _uncommitted(publisher: EventPublisher) -> Callable[[], int] | None:
    """The in-process bus's count of events not yet stored, when `publisher` is one."""
    from events.bus.inproc import InProcessPublisher

    if isinstance(publisher, InProcessPublisher):
        return lambda: publisher.uncommitted
    return None


def _closing(close: Callable[[], None], services: ApiServices | None) -> Callable[[], None]:
    """`close`, then the API services' threads (when the API server cannot be built)."""

    def both() -> None:
        close()
        if services is not None:
            services.close()

    return both


def pipeline(settings: Settings, *, start_ts_ms: int | None, once: bool = False, reseed: bool = False) -> int:
    """Distributed: decode + detect + rules for this worker's share of the cameras, publishing to Kafka."""
    config = _load(settings)
    stop = threading.Event()
    stop_on_signals(stop)
    publisher = make_kafka_publisher(settings)
    registry = make_registry(settings)
    try:
        seed_registry(registry, config, reseed=reseed)
    finally:
        registry.close()
    heartbeats = make_heartbeat_publisher(settings)
    faces, readers = start_faces(settings, None), start_readers(settings, None)
    try:
        return _run_supervised(
            config,
            settings,
            publisher,
            make_worker_feed(settings, registry),
            heartbeats,
            stop,
            start_ts_ms=start_ts_ms,
            once=once,
            faces=faces,
            readers=readers,
        )
    finally:
        faces.close()
        readers.close()
        heartbeats.close()
        publisher.close()


def sink(settings: Settings, *, exit_when_idle_s: float | None) -> int:
    """Distributed: Kafka consumer group -> ClickHouse, dedupe by event_id, commit after insert."""
    from events.sink import run_sink

    stop = threading.Event()
    stop_on_signals(stop)
    store = make_store(settings)
    consumer, dead_letters = make_kafka_consumer(settings)
    try:
        stats = run_sink(
            consumer,
            store,
            batch_max=settings.sink_batch_max,
            batch_wait_s=settings.sink_batch_wait_s,
            stop=stop,
            dead_letters=dead_letters,
            idle_exit_s=exit_when_idle_s,
        )
    finally:
        consumer.close()
        dead_letters.close()
        store.close()
    logger.info("sink done: %s", stats)
    return 0


def api(settings: Settings) -> int:
    stop = threading.Event()
    stop_on_signals(stop)
    store = make_store(settings)
    registry = make_registry(settings)
    health: HealthView | None = None
    readiness: dict[str, Callable[[], str | None]] = {}
    if settings.mode == "distributed":
        health = make_health_view(settings)
        readiness["bus"] = lambda: _bus_error(settings)
    sensors = start_sensors(settings, store)
    faces, readers = start_faces(settings, store), start_readers(settings, store)
    services = build_api_services(
        settings, store, process="api", registry=registry, faces=faces, readers=readers
    )
    services.closers[:0] = [faces.close, readers.close]
    sink_lag = None
    if settings.mode == "distributed":
        from events.bus.kafka_lag import KafkaGroupLag

        lag = KafkaGroupLag(
            settings.kafka_bootstrap,
            settings.kafka_group_id,
            settings.kafka_events_topic,
            timeout_s=settings.connect_timeout_s,
        )
        services.closers.append(lag.close)
        sink_lag = lag.lag
    parts = ApiParts(
        cameras=registry,
        health=health,
        readiness=readiness,
        sensors=sensors.service,
        services=services,
        sink_lag=sink_lag,
    )
    server = _api_server_or_close(store, settings, parts, _closing(sensors.close, services))
    server.start()
    while not stop.wait(0.5):
        pass
    server.stop()
    services.close()
    sensors.close()
    if health is not None:
        health.close()
    registry.close()
    store.close()
    return 0


def _bus_error(settings: Settings) -> str | None:
    import socket as _socket

    host, _, port = settings.kafka_bootstrap.split(",")[0].rpartition(":")
    try:
        with _socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return None
    except (OSError, ValueError) as exc:
        return f"Kafka at {settings.kafka_bootstrap} unreachable: {exc}"


def _api_server_or_close(
    store: EventStore, settings: Settings, parts: ApiParts, close: Callable[[], None]
) -> ApiServer:
    """The API server; `close` (the sensors' threads) runs first if it cannot be built (port taken)."""
    try:
        return ApiServer(store, settings, parts)
    except BaseException:
        close()
        raise


def sensor_hub(settings: Settings, *, reseed: bool = False, exit_when_idle_s: float | None = None) -> int:
    """Distributed: the sensor hub. Readings (`anfang.sensors`) -> store + rules -> `sensor_alarm`;
    alarms + video findings (`anfang.events`) -> `incident`; both published on `anfang.events`."""
    from anfang.wiring import build_sensor_round, make_sensor_registry, seed_sensors
    from pipelines.sensors.runner import run_sensor_hub

    if settings.mode != "distributed":
        raise UsageError("`anfang sensors` is the distributed hub; embedded, `demo` and `api` run it")
    config = _load(settings)
    stop = threading.Event()
    stop_on_signals(stop)
    store = make_store(settings)
    registry = make_sensor_registry(settings)
    seed_sensors(registry, config, reseed=reseed)
    rounds = build_sensor_round(settings, registry, store)
    try:
        run_sensor_hub(rounds, stop, idle_exit_s=exit_when_idle_s)
    finally:
        rounds.close()
        registry.close()
        store.close()
    return 0
