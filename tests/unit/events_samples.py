"""Sample events for the events/ and api/ tests (bus, store, sink, API): valid, varied, deterministic ids."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Literal

from events.auth import CameraScope
from events.ports import EventCursor, EventGroupBy, EventPage, EventQuery
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


def engine_order_key(event: Event) -> tuple[int, int, int]:
    """The page order's sort key as ClickHouse (chDB and 18.16 alike) sorts it: ts_ms, then the UUID
    compared by its low 64 bits before its high 64 bits (not the order of its text)."""
    return event.ts_ms, event.event_id.int & (2**64 - 1), event.event_id.int >> 64


def newest_first(events: Iterable[Event]) -> list[Event]:
    """The order stores return: ts_ms descending, ties by event_id descending (as the engine orders UUIDs)."""
    return sorted(events, key=engine_order_key, reverse=True)


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


#: Free text that would break naive quoting, LIKE patterns or the query itself: matched literally.
HOSTILE_TEXTS = [
    "it's",
    "100%",
    "_",
    "back\\slash",
    "'; DROP TABLE anfang.events; --",
    "') OR 1=1 OR ('",
    "%(p0)s {x:String} ?",
    "\0nul",
    "京A·12345",
    "GATE",
]

#: History cameras: cam-1 and cam-2 at site north, cam-3 at south, cam-4 at east.
HISTORY_SITES = {"cam-1": "north", "cam-2": "north", "cam-3": "south", "cam-4": "east"}


def with_attributes(event: Event, event_type: str, **attributes: object) -> Event:
    """`event` as another (possibly unknown) type with free-form attributes."""
    data = event.model_dump(mode="json")
    data.update(type=event_type, attributes={"type": event_type, **attributes})
    return Event.model_validate(data)


def history_events() -> list[Event]:
    """50 events over 16 hours, 4 cameras at 3 sites, 2 types x 2 rules each, people and cars, every
    third an alert; plus 2 notes whose attributes hold text that breaks naive SQL (newest)."""
    events = []
    for i in range(48):
        camera_id = f"cam-{1 + i % 4}"
        event_type = "zone_intrusion" if i % 3 else "line_crossing"
        event = build_event(
            ts_ms=BASE_TS_MS + i * 20 * 60_000,
            camera_id=camera_id,
            site_id=HISTORY_SITES[camera_id],
            event_type=event_type,
            alert=i % 3 == 1,
            track_id=i,
            label="car" if i % 5 == 0 else "person",
            rule_id=f"{event_type}-{i % 2}",
            dwell_s=float(i),
            direction="in" if i % 2 else "out",
        )
        events.append(event)
    for k, text in enumerate(["it's 100% \\ 'quoted' _x_", "京A·12345 at the Gate"]):
        base = build_event(ts_ms=BASE_TS_MS + (48 + k) * 20 * 60_000, camera_id="cam-3", site_id="south")
        events.append(with_attributes(base, "note", text=text, seq=k))
    return events


#: History queries over `history_events()`, checked against `reference_page` / `reference_aggregate`.
HISTORY_QUERIES = [
    EventQuery(cameras=("cam-1", "cam-3")),
    EventQuery(cameras=("cam-1", "cam-3"), camera_id="cam-3"),
    EventQuery(cameras=("cam-1",), camera_id="cam-3"),
    EventQuery(scope=CameraScope(sites=("north",))),
    EventQuery(scope=CameraScope(cameras=("cam-4",), sites=("south",))),
    EventQuery(scope=CameraScope(cameras=("cam-9",))),
    EventQuery(scope=CameraScope()),
    EventQuery(rule_ids=("zone_intrusion-1",)),
    EventQuery(labels=("car",), alerts_only=True),
    EventQuery(labels=("car", "person"), rule_ids=("line_crossing-0", "zone_intrusion-0")),
    EventQuery(text="gate"),
    EventQuery(text='"direction":"OUT"'),
    EventQuery(text="dwell_s"),
    EventQuery(types=("note",), text="quoted"),
    EventQuery(limit=4, offset=5, scope=CameraScope(sites=("north", "east")), types=("zone_intrusion",)),
    EventQuery(since_ms=BASE_TS_MS + 3 * 3_600_000, until_ms=BASE_TS_MS + 9 * 3_600_000, labels=("person",)),
    EventQuery(limit=3, with_total=False),
] + [EventQuery(text=t) for t in HOSTILE_TEXTS]


#: (status, assignee) of an alert's latest state, by event id; absent = never acted on ("new", nobody).
AlertStates = Mapping[uuid.UUID, tuple[str, str | None]]


def matches(e: Event, q: EventQuery, states: AlertStates | None = None) -> bool:
    """Reference filter for `EventStore.query` (time bounds inclusive; paging and cursor ignored)."""
    status, assignee = (states or {}).get(e.event_id, ("new", None))
    return (
        (q.camera_id is None or e.camera_id == q.camera_id)
        and (not q.cameras or e.camera_id in q.cameras)
        and (q.scope is None or q.scope.allows(e.camera_id, e.site_id))
        and (not q.types or e.type in q.types)
        and (not q.rule_ids or e.rule_id in q.rule_ids)
        and (not q.labels or e.label in q.labels)
        and (q.since_ms is None or e.ts_ms >= q.since_ms)
        and (q.until_ms is None or e.ts_ms <= q.until_ms)
        and (not q.alerts_only or e.alert)
        and (not q.text or q.text.lower() in e.attributes.model_dump_json().lower())
        and (not q.statuses or status in q.statuses)
        and (q.assignee is None or assignee == q.assignee)
    )


def _before(e: Event, cursor: EventCursor) -> bool:
    """Whether `e` comes after the cursor in the page order (strictly older)."""
    c = cursor.event_id.int
    return engine_order_key(e) < (cursor.ts_ms, c & (2**64 - 1), c >> 64)


def reference_page(events: Iterable[Event], q: EventQuery, states: AlertStates | None = None) -> EventPage:
    """Reference for `EventStore.query`: the page, its total (or -1) and the cursor of the next page."""
    hits = newest_first(e for e in events if matches(e, q, states))
    rest = [e for e in hits if q.after is None or _before(e, q.after)][q.offset :]
    page = rest[: q.limit]
    more = len(rest) > q.limit
    cursor = EventCursor(page[-1].ts_ms, page[-1].event_id) if more and page else None
    return EventPage(events=page, total=len(hits) if q.with_total else -1, next_cursor=cursor)


def reference_aggregate(
    events: Iterable[Event], q: EventQuery, group_by: EventGroupBy, states: AlertStates | None = None
) -> dict[str, int]:
    """Reference for `EventStore.aggregate`: counts per type, camera or UTC hour start (epoch ms as text)."""
    counts: dict[str, int] = {}
    for e in events:
        if matches(e, q, states):
            key = {"type": e.type, "camera": e.camera_id, "hour": str(e.ts_ms // 3_600_000 * 3_600_000)}[
                group_by
            ]
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
