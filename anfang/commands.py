"""The process entry points: demo (embedded, all in one), pipeline, sink and api (distributed)."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from types import FrameType

from anfang.settings import Settings
from anfang.wiring import (
    RunResult,
    make_detector,
    make_kafka_consumer,
    make_kafka_publisher,
    make_store,
    run_cameras,
    start_embedded_sink,
    summarise,
)
from events.ports import EventPublisher, EventStore
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


class ApiServer:
    """uvicorn in a background thread, so the API serves while the pipeline runs."""

    def __init__(self, store: EventStore, settings: Settings) -> None:
        import uvicorn

        from api.app import create_app

        host, port = settings.api_host, settings.api_port
        _check_port_free(host, port)
        app = create_app(store, settings.data_dir, config=settings.api)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
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


def _load(settings: Settings) -> AppConfig:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return load_config(settings.config_path)


def _run_and_report(
    config: AppConfig,
    settings: Settings,
    publisher: EventPublisher,
    stop: threading.Event,
    start_ts_ms: int | None,
) -> RunResult:
    """Run every camera, deliver what was published (also on failure), log the summary."""
    started = time.monotonic()
    try:
        result = run_cameras(
            config, settings, publisher, lambda: make_detector(config, settings), stop, start_ts_ms
        )
    finally:
        publisher.flush(timeout_s=settings.flush_timeout_s)
    for line in summarise(result, time.monotonic() - started):
        logger.info("%s", line)
    return result


def demo(settings: Settings, *, once: bool, start_ts_ms: int | None) -> int:
    """Embedded: in-process bus + chDB; pipeline, sink and API in this one process."""
    config = _load(settings)
    stop = threading.Event()
    stop_on_signals(stop)
    store = make_store(settings)
    api = None if once else ApiServer(store, settings)
    publisher, stop_sink = start_embedded_sink(store, settings)
    if api is not None:
        api.start()
    try:
        result = _run_and_report(config, settings, publisher, stop, start_ts_ms)
    finally:
        stop_sink()
    logger.info("stored: %s", store.count_by_type())
    if api is not None and not stop.is_set():
        logger.info("video done; still serving %s (Ctrl-C to quit)", api.url)
        while not stop.wait(0.5):
            pass
    if api is not None:
        api.stop()
    store.close()
    return _exit_code(result)


def pipeline(settings: Settings, *, start_ts_ms: int | None) -> int:
    """Distributed: decode + detect + rules, publishing to Kafka. Ends when every file source ends."""
    config = _load(settings)
    stop = threading.Event()
    stop_on_signals(stop)
    publisher = make_kafka_publisher(settings)
    try:
        result = _run_and_report(config, settings, publisher, stop, start_ts_ms)
    finally:
        publisher.close()
    return _exit_code(result)


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
    server = ApiServer(store, settings)
    server.start()
    while not stop.wait(0.5):
        pass
    server.stop()
    store.close()
    return 0


def _exit_code(result: RunResult) -> int:
    return 1 if result.errors else 0
