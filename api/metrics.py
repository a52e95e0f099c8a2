"""Prometheus metrics for `/metrics`: one registry per app, built by `create_app` (nothing global).

Camera and event figures are read at scrape time by `AnfangCollector` from the objects the
composition root injected (store, camera registry, health view); the API's own latency is a histogram
fed by `RequestMetricsMiddleware`, labelled by route template (never the raw path, so ids in paths
add no series). Labels carry camera ids and event types only: never a URI or a credential.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.camera_services import list_cameras
from api.redaction import redact_text
from events.cameras import CameraHealth, CameraRegistry, CameraStatus, HealthView
from events.ports import EventStore

logger = logging.getLogger(__name__)

#: Statuses in which a camera delivers what it should (a file that ended did its job).
UP_STATUSES = frozenset({CameraStatus.ONLINE, CameraStatus.FINISHED})
#: Statuses counted by `anfang_cameras_offline` (starting and stopped cameras are not outages).
OFFLINE_STATUSES = frozenset({CameraStatus.OFFLINE, CameraStatus.RECONNECTING})
#: The `route` label of a request that matched no route.
UNMATCHED_ROUTE = "unmatched"

#: Per camera gauge name -> (help, CameraHealth field).
_CAMERA_GAUGES: dict[str, tuple[str, str]] = {
    "anfang_camera_analysed_fps": ("Frames per second analysed", "analysed_fps"),
    "anfang_camera_decoded_fps": ("Frames per second decoded", "decoded_fps"),
    "anfang_camera_detector_fps": ("Frames per second the detector ran on", "detector_fps"),
    "anfang_camera_gated_share": ("Share of frames motion gating kept from the detector", "gated_share"),
    "anfang_camera_last_frame_age_seconds": ("Seconds since the camera's last frame", "last_frame_age_s"),
}
#: Per camera counter name (without `_total`) -> (help, CameraHealth field).
_CAMERA_COUNTERS: dict[str, tuple[str, str]] = {
    "anfang_camera_frames_dropped": ("Frames dropped because analysis fell behind", "frames_dropped"),
    "anfang_camera_reconnects": ("Reconnections of the camera's stream", "reconnects"),
}


class AnfangCollector(Collector):
    """Camera health, offline count and stored events by type, read afresh on every scrape."""

    def __init__(
        self,
        store: EventStore,
        cameras: CameraRegistry | None,
        health: HealthView | None,
        sink_lag: Callable[[], int] | None = None,
    ) -> None:
        self._store = store
        self._cameras = cameras
        self._health = health
        self._sink_lag = sink_lag

    def collect(self) -> Iterator[Metric]:
        yield from self._camera_metrics()
        yield from self._event_metrics()
        yield from self._sink_metrics()

    def _sink_metrics(self) -> Iterator[Metric]:
        if self._sink_lag is None:
            return
        try:
            lag = self._sink_lag()
        except Exception as exc:  # left out when the bus does not answer; the scrape still answers
            logger.warning("metrics: sink lag unavailable: %s", _cause(exc))
            return
        yield GaugeMetricFamily(
            "anfang_sink_lag_events", "Events published on the bus and not yet stored by the sink", value=lag
        )

    def _views(self) -> list[tuple[str, CameraHealth | None]]:
        """Registered cameras with their health; without a registry, every camera health reports."""
        if self._cameras is not None:
            return [(v.record.camera_id, v.health) for v in list_cameras(self._cameras, self._health)]
        latest = {} if self._health is None else dict(self._health.latest())
        return sorted(latest.items())

    def _camera_metrics(self) -> Iterator[Metric]:
        health_up = GaugeMetricFamily("anfang_camera_health_up", "1 when cameras and health were read")
        try:
            views = self._views()
        except Exception as exc:  # a scrape must answer: the failure shows as anfang_camera_health_up 0
            logger.warning("metrics: cameras unavailable: %s", _cause(exc))
            health_up.add_metric([], 0)
            yield health_up
            return
        health_up.add_metric([], 1)
        yield health_up
        yield from _camera_families(views)

    def _event_metrics(self) -> Iterator[Metric]:
        store_up = GaugeMetricFamily("anfang_store_up", "1 when the event store answered the scrape")
        try:
            counts = self._store.count_by_type()
        except Exception as exc:  # the events metric is left out, the rest is still served
            logger.warning("metrics: event store unavailable: %s", _cause(exc))
            store_up.add_metric([], 0)
            yield store_up
            return
        store_up.add_metric([], 1)
        yield store_up
        events = CounterMetricFamily("anfang_events", "Events stored, by type", labels=["type"])
        for event_type, count in sorted(counts.items()):
            events.add_metric([event_type], count)
        yield events


def _cause(exc: Exception) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}")


def _status(health: CameraHealth | None) -> CameraStatus:
    return CameraStatus.STARTING if health is None else health.status


def _camera_families(views: Sequence[tuple[str, CameraHealth | None]]) -> Iterator[Metric]:
    up = GaugeMetricFamily("anfang_camera_up", "1 when online or finished", labels=["camera_id"])
    offline = GaugeMetricFamily("anfang_cameras_offline", "Cameras offline or reconnecting")
    gauges = {n: GaugeMetricFamily(n, h, labels=["camera_id"]) for n, (h, _) in _CAMERA_GAUGES.items()}
    counters = {n: CounterMetricFamily(n, h, labels=["camera_id"]) for n, (h, _) in _CAMERA_COUNTERS.items()}
    for cid, health in views:
        up.add_metric([cid], 1 if _status(health) in UP_STATUSES else 0)
        if health is None:  # not heard from yet: no figures to report
            continue
        for name, (_, field) in _CAMERA_GAUGES.items():
            value = getattr(health, field)
            if value is not None:
                gauges[name].add_metric([cid], float(value))
        for name, (_, field) in _CAMERA_COUNTERS.items():
            counters[name].add_metric([cid], float(getattr(health, field)))
    offline.add_metric([], sum(1 for _, h in views if _status(h) in OFFLINE_STATUSES))
    yield up
    yield offline
    yield from gauges.values()
    yield from counters.values()


@dataclass(frozen=True, slots=True)
class ApiMetrics:
    """One app's metrics: its registry (what `/metrics` serves) and the request latency histogram."""

    registry: CollectorRegistry
    request_duration: Histogram


def build_metrics(
    store: EventStore,
    cameras: CameraRegistry | None,
    health: HealthView | None,
    sink_lag: Callable[[], int] | None = None,
) -> ApiMetrics:
    """A fresh registry with the scrape-time collector and the latency histogram (reads nothing now)."""
    registry = CollectorRegistry()
    registry.register(AnfangCollector(store, cameras, health, sink_lag))
    duration = Histogram(
        "anfang_api_request_duration_seconds",
        "HTTP request duration, by method, route template and status",
        labelnames=("method", "route", "status"),
        registry=registry,
    )
    return ApiMetrics(registry=registry, request_duration=duration)


class RequestMetricsMiddleware:
    """ASGI middleware timing each HTTP request into `histogram` (route = the matched template)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception with no response sent is a server error
        started = time.perf_counter()
        observed = False

        def observe() -> None:
            nonlocal observed
            observed = True
            route = getattr(scope.get("route"), "path", None)
            labels = (scope["method"], route if isinstance(route, str) else UNMATCHED_ROUTE, str(status))
            self.histogram.labels(*labels).observe(time.perf_counter() - started)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = dict(message.get("headers", ()))
                if headers.get(b"content-type", b"").startswith(b"text/event-stream"):
                    observe()  # an endless stream: its latency is the time to its first byte
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if not observed:
                observe()
