"""Sample events for the events/ and api/ tests (bus, store, sink, API): valid, varied, deterministic ids."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Literal

from events.ports import EventQuery
from events.schema import (
    Event,
    ModelRef,
    Severity,
    Snapshot,
    make_event_id,
)
from pipelines.analytics.line_crossing import LineCrossingAttributes
from pipelines.analytics.zone_intrusion import ZoneIntrusionAttributes

BASE_TS_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z

_DEFAULT_MODEL = ModelRef(name="yolov8s-fall", version="0.1.2")
_RULE_ID_BY_TYPE = {"zone_intrusion": "gate-intrusion", "line_crossing": "door-crossing"}


def build_event(
    *,
    ts_ms: int,
    camera_id: str = "cam-1",
    event_type: str = "zone_intrusion",
    alert: bool = True,
    track_id: int | None = 7,
    snapshot: Snapshot | None = None,
    severity: Severity = Severity.HIGH,
    label: str = "person",
    confidence: float = 0.87,
    rule_id: str | None = None,
    event_id: uuid.UUID | None = None,
    bbox_xyxy: tuple[float, float, float, float] = (0.1, 0.2, 0.3, 0.6),
    dwell_s: float = 2.5,
    direction: Literal["in", "out"] = "in",
    site_id: str = "hq",
    model: ModelRef = _DEFAULT_MODEL,
    worker_id: str = "worker-a",
) -> Event:
    """One valid event; zone "gate" or line "door" attributes by type. `rule_id` defaults per type
    (gate-intrusion / door-crossing); `event_id` defaults to make_event_id(camera, rule, track, ts)."""
    rule = _RULE_ID_BY_TYPE[event_type] if rule_id is None else rule_id
    attributes: ZoneIntrusionAttributes | LineCrossingAttributes
    if event_type == "zone_intrusion":
        attributes = ZoneIntrusionAttributes(zone_id="gate", dwell_s=dwell_s)
    else:
        attributes = LineCrossingAttributes(line_id="door", direction=direction)
    return Event(
        event_id=make_event_id(camera_id, rule, track_id, ts_ms) if event_id is None else event_id,
        ts_ms=ts_ms,
        camera_id=camera_id,
        site_id=site_id,
        type=event_type,
        severity=severity,
        alert=alert,
        rule_id=rule,
        track_id=track_id,
        label=label,
        confidence=confidence,
        bbox_xyxy=bbox_xyxy,
        attributes=attributes,
        snapshot=snapshot,
        model=model,
        worker_id=worker_id,
    )


def make_event(
    i: int,
    *,
    camera_id: str = "cam-1",
    event_type: str = "zone_intrusion",
    alert: bool = False,
    ts_ms: int | None = None,
    label: str = "person",
) -> Event:
    """The i-th sample event: ts grows with i, so newest-first order is descending i."""
    ts = BASE_TS_MS + i * 100 if ts_ms is None else ts_ms
    return build_event(
        ts_ms=ts,
        camera_id=camera_id,
        event_type=event_type,
        alert=alert,
        track_id=i if i % 3 else None,
        snapshot=Snapshot(uri=f"snapshots/{camera_id}/{i}.jpg", sha256="ab" * 32) if i % 2 else None,
        severity=Severity.HIGH if alert else Severity.LOW,
        label=label,
        confidence=0.5 + (i % 50) / 100,
        rule_id="rule-1",
        event_id=make_event_id(camera_id, "rule-1", i, ts),
        bbox_xyxy=(0.1, 0.2, 0.3 + (i % 7) / 100, 0.4),
        dwell_s=1.5 + i,
        direction="in" if i % 2 else "out",
        site_id="site-a",
        model=ModelRef(name="yolo", version="8s"),
        worker_id="w1",
    )


def sample_events() -> list[Event]:
    """40 events: 2 cameras x 2 types, every third an alert; ts = BASE + i*100."""
    return [
        make_event(
            i,
            camera_id="cam-1" if i % 2 else "cam-2",
            event_type="zone_intrusion" if i % 4 < 2 else "line_crossing",
            alert=i % 3 == 0,
        )
        for i in range(40)
    ]


def newest_first(events: Iterable[Event]) -> list[Event]:
    """The order stores return: ts_ms descending, ties by event_id descending."""
    return sorted(events, key=lambda e: (e.ts_ms, str(e.event_id)), reverse=True)


def counts_by_type(events: Iterable[Event], camera_id: str | None = None) -> dict[str, int]:
    """Reference for `EventStore.count_by_type`: events per type value, of one camera or all."""
    counts: dict[str, int] = {}
    for e in events:
        if camera_id is None or e.camera_id == camera_id:
            counts[e.type] = counts.get(e.type, 0) + 1
    return counts


#: Store queries over `sample_events()`, checked against `matches` (a reference filter).
STORE_QUERIES = [
    EventQuery(),
    EventQuery(camera_id="cam-1"),
    EventQuery(camera_id="nope"),
    EventQuery(types=("line_crossing",)),
    EventQuery(types=("line_crossing", "zone_intrusion")),
    EventQuery(since_ms=BASE_TS_MS + 1000, until_ms=BASE_TS_MS + 2000),  # inclusive both ends
    EventQuery(since_ms=BASE_TS_MS + 3900),
    EventQuery(until_ms=BASE_TS_MS),
    EventQuery(alerts_only=True),
    EventQuery(limit=5, offset=3, alerts_only=True),
    EventQuery(camera_id="cam-2", types=("zone_intrusion",), alerts_only=True, since_ms=BASE_TS_MS + 500),
]


def matches(e: Event, q: EventQuery) -> bool:
    """Reference filter for `EventStore.query` (time bounds inclusive)."""
    return (
        (q.camera_id is None or e.camera_id == q.camera_id)
        and (not q.types or e.type in q.types)
        and (q.since_ms is None or e.ts_ms >= q.since_ms)
        and (q.until_ms is None or e.ts_ms <= q.until_ms)
        and (not q.alerts_only or e.alert)
    )
