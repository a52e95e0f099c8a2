"""Sample events for the events/ tests (bus, store, sink): valid, varied, deterministic ids."""

from __future__ import annotations

from events.ports import EventQuery
from events.schema import (
    Event,
    EventType,
    LineCrossingAttributes,
    ModelRef,
    Severity,
    Snapshot,
    ZoneIntrusionAttributes,
    make_event_id,
)

BASE_TS_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z


def make_event(
    i: int,
    *,
    camera_id: str = "cam-1",
    event_type: EventType = EventType.ZONE_INTRUSION,
    alert: bool = False,
    ts_ms: int | None = None,
    label: str = "person",
) -> Event:
    """The i-th sample event: ts grows with i, so newest-first order is descending i."""
    ts = BASE_TS_MS + i * 100 if ts_ms is None else ts_ms
    attributes: ZoneIntrusionAttributes | LineCrossingAttributes
    if event_type is EventType.ZONE_INTRUSION:
        attributes = ZoneIntrusionAttributes(zone_id="gate", dwell_s=1.5 + i)
    else:
        attributes = LineCrossingAttributes(line_id="door", direction="in" if i % 2 else "out")
    return Event(
        event_id=make_event_id(camera_id, "rule-1", i, ts),
        ts_ms=ts,
        camera_id=camera_id,
        site_id="site-a",
        type=event_type,
        severity=Severity.HIGH if alert else Severity.LOW,
        alert=alert,
        rule_id="rule-1",
        track_id=i if i % 3 else None,
        label=label,
        confidence=0.5 + (i % 50) / 100,
        bbox_xyxy=(0.1, 0.2, 0.3 + (i % 7) / 100, 0.4),
        attributes=attributes,
        snapshot=Snapshot(uri=f"snapshots/{camera_id}/{i}.jpg", sha256="ab" * 32) if i % 2 else None,
        model=ModelRef(name="yolo", version="8s"),
        worker_id="w1",
    )


def sample_events() -> list[Event]:
    """40 events: 2 cameras x 2 types, every third an alert; ts = BASE + i*100."""
    return [
        make_event(
            i,
            camera_id="cam-1" if i % 2 else "cam-2",
            event_type=EventType.ZONE_INTRUSION if i % 4 < 2 else EventType.LINE_CROSSING,
            alert=i % 3 == 0,
        )
        for i in range(40)
    ]


def newest_first(events: list[Event]) -> list[Event]:
    """The order stores return: ts_ms descending, ties by event_id descending."""
    return sorted(events, key=lambda e: (e.ts_ms, str(e.event_id)), reverse=True)


#: Store queries over `sample_events()`, checked against `matches` (a reference filter).
STORE_QUERIES = [
    EventQuery(),
    EventQuery(camera_id="cam-1"),
    EventQuery(camera_id="nope"),
    EventQuery(types=(EventType.LINE_CROSSING,)),
    EventQuery(types=(EventType.LINE_CROSSING, EventType.ZONE_INTRUSION)),
    EventQuery(since_ms=BASE_TS_MS + 1000, until_ms=BASE_TS_MS + 2000),  # inclusive both ends
    EventQuery(since_ms=BASE_TS_MS + 3900),
    EventQuery(until_ms=BASE_TS_MS),
    EventQuery(alerts_only=True),
    EventQuery(limit=5, offset=3, alerts_only=True),
    EventQuery(
        camera_id="cam-2", types=(EventType.ZONE_INTRUSION,), alerts_only=True, since_ms=BASE_TS_MS + 500
    ),
]


def matches(e: Event, q: EventQuery) -> bool:
    return (
        (q.camera_id is None or e.camera_id == q.camera_id)
        and (not q.types or e.type in q.types)
        and (q.since_ms is None or e.ts_ms >= q.since_ms)
        and (q.until_ms is None or e.ts_ms <= q.until_ms)
        and (not q.alerts_only or e.alert)
    )
