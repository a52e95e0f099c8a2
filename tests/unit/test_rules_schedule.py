"""What every rule shares: armed windows (across midnight, in time zones), minimum object size,
cooldowns and stationary objects, applied once (base.py helpers and the engine)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import numpy as np
import pytest
import supervision as sv
from pydantic import ValidationError

from anfang.wiring import published_event_schema
from pipelines.analytics.base import (
    Cooldown,
    Finding,
    FrameContext,
    ReportedOnce,
    eligible,
    inside,
    zone_in_pixels,
)
from pipelines.analytics.engine import RuleEngine
from pipelines.analytics.loitering import LoiteringAttributes
from pipelines.analytics.spec import RuleBase, Schedule, ZoneConfig
from pipelines.config import CameraConfig
from tests.unit.events_samples import make_event

RES_WH = (200, 100)


def ms(iso_utc: str) -> int:
    return int(datetime.fromisoformat(iso_utc).replace(tzinfo=UTC).timestamp() * 1000)


WEEKDAYS_9_TO_6: dict[str, object] = {
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}]
}
FRIDAY_NIGHT: dict[str, object] = {"windows": [{"days": ["fri"], "start": "22:00", "end": "06:00"}]}
NIGHTS_SHANGHAI: dict[str, object] = {
    "time_zone": "Asia/Shanghai",
    "windows": [{"start": "22:00", "end": "06:00"}],
}
BERLIN_OFFICE: dict[str, object] = {
    "time_zone": "Europe/Berlin",
    "windows": [{"start": "08:00", "end": "18:00"}],
}

# 2024-03-01 is a Friday.
SCHEDULE_CASES: list[tuple[dict[str, object], str, bool]] = [
    (WEEKDAYS_9_TO_6, "2024-03-01T08:59:59.999", False),
    (WEEKDAYS_9_TO_6, "2024-03-01T09:00:00", True),  # start included
    (WEEKDAYS_9_TO_6, "2024-03-01T17:59:59.999", True),
    (WEEKDAYS_9_TO_6, "2024-03-01T18:00:00", False),  # end excluded
    (WEEKDAYS_9_TO_6, "2024-03-02T12:00:00", False),  # Saturday
    (FRIDAY_NIGHT, "2024-03-01T21:59:59.999", False),
    (FRIDAY_NIGHT, "2024-03-01T22:00:00", True),
    (FRIDAY_NIGHT, "2024-03-01T23:59:59.999", True),
    (FRIDAY_NIGHT, "2024-03-02T00:00:00", True),  # Saturday morning belongs to Friday's window
    (FRIDAY_NIGHT, "2024-03-02T05:59:59.999", True),
    (FRIDAY_NIGHT, "2024-03-02T06:00:00", False),
    (FRIDAY_NIGHT, "2024-03-01T03:00:00", False),  # Friday morning is Thursday night's: not armed
    (FRIDAY_NIGHT, "2024-03-02T22:30:00", False),  # Saturday night: not armed
    (FRIDAY_NIGHT, "2024-03-03T01:00:00", False),
    # Shanghai is UTC+8: its 22:00 is 14:00 UTC, its 06:00 is 22:00 UTC.
    (NIGHTS_SHANGHAI, "2024-03-01T13:59:59.999", False),
    (NIGHTS_SHANGHAI, "2024-03-01T14:00:00", True),
    (NIGHTS_SHANGHAI, "2024-03-01T16:00:00", True),  # local midnight
    (NIGHTS_SHANGHAI, "2024-03-01T21:59:59.999", True),
    (NIGHTS_SHANGHAI, "2024-03-01T22:00:00", False),
    # Berlin is UTC+1 in winter and UTC+2 in summer: the window follows local time.
    (BERLIN_OFFICE, "2024-01-15T06:59:59", False),
    (BERLIN_OFFICE, "2024-01-15T07:00:00", True),
    (BERLIN_OFFICE, "2024-07-15T05:59:59", False),
    (BERLIN_OFFICE, "2024-07-15T06:00:00", True),
    (BERLIN_OFFICE, "2024-07-15T15:59:59", True),
    (BERLIN_OFFICE, "2024-07-15T16:00:00", False),
    ({"windows": [{"start": "00:00", "end": "24:00"}]}, "2024-03-03T23:59:59.999", True),
    ({"windows": [{"start": "20:00", "end": "24:00"}]}, "2024-03-04T00:00:00", False),
    ({"windows": [{"start": "20:00", "end": "00:00"}]}, "2024-03-03T23:59:00", True),
    ({"time_zone": "Asia/Shanghai"}, "2024-03-03T03:00:00", True),  # no windows: always armed
    (
        {
            "windows": [
                {"days": ["sat"], "start": "08:00", "end": "12:00"},
                {"start": "23:00", "end": "01:00"},
            ]
        },
        "2024-03-02T00:30:00",  # Saturday 00:30: the second window, started Friday
        True,
    ),
]


@pytest.mark.parametrize(("schedule", "utc", "expected"), SCHEDULE_CASES)
def test_schedule_windows(schedule: dict[str, object], utc: str, expected: bool) -> None:
    assert Schedule.model_validate(schedule).armed_at(ms(utc)) is expected


@pytest.mark.parametrize(
    ("schedule", "key"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"windows": [{"start": "25:00", "end": "06:00"}]}, "start"),
        ({"windows": [{"start": "9:00", "end": "18:00"}]}, "start"),
        ({"windows": [{"start": "08:00", "end": "08:00"}]}, "empty"),
        ({"windows": [{"start": "24:00", "end": "06:00"}]}, "24:00"),
        ({"windows": [{"days": ["funday"], "start": "08:00", "end": "09:00"}]}, "days"),
        ({"windows": [{"days": [], "start": "08:00", "end": "09:00"}]}, "days"),
        ({"windows": [{"start": "08:00", "end": "09:00", "until": "never"}]}, "until"),
    ],
)
def test_bad_schedules_are_refused_naming_the_key(schedule: dict[str, object], key: str) -> None:
    with pytest.raises(ValidationError, match=key):
        Schedule.model_validate(schedule)


# --- the engine runs only armed rules, and a rule starts afresh when its window opens --------------------

Box = tuple[int, float]  # track id, x centre (px); the zone "right" is x >= 99.5 px


def tracked(boxes: list[Box], height_px: float = 20, width_px: float = 10) -> sv.Detections:
    if not boxes:
        return sv.Detections.empty()
    return sv.Detections(
        xyxy=np.array(
            [[x - width_px / 2, 60 - height_px, x + width_px / 2, 60] for _, x in boxes], dtype=np.float32
        ),
        confidence=np.full(len(boxes), 0.9, dtype=np.float32),
        class_id=np.zeros(len(boxes), dtype=int),
        tracker_id=np.array([t for t, _ in boxes]),
        data={"label": np.array(["person"] * len(boxes))},
    )


def engine(*rules: dict[str, object]) -> RuleEngine:
    camera = CameraConfig.model_validate(
        {
            "id": "cam",
            "uri": "x.avi",
            "zones": [{"id": "right", "polygon_xy": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}],
            "lines": [{"id": "mid", "start_xy": [0.5, 0], "end_xy": [0.5, 1]}],
            "rules": list(rules),
        }
    )
    return RuleEngine.for_camera(camera, RES_WH)


INTRUSION = {"id": "z", "type": "zone_intrusion", "zone": "right", "min_dwell_s": 1.0, "cooldown_s": 1000}
NIGHTS: dict[str, object] = {"time_zone": "UTC", "windows": [{"start": "22:00", "end": "06:00"}]}


def fire_times(e: RuleEngine, start_ms: int, seconds: int, boxes: list[Box]) -> list[tuple[str, int]]:
    """Frames once a second; (rule id, ts) of what fired."""
    fired: list[tuple[str, int]] = []
    for s in range(seconds):
        ts = start_ms + s * 1000
        fired.extend((f.rule_id, ts) for f in e.evaluate(FrameContext.of(tracked(boxes), ts, RES_WH)))
    return fired


def test_a_rule_outside_its_window_produces_nothing_and_starts_afresh_when_it_opens() -> None:
    start = ms("2024-03-04T21:59:00")  # someone stands in the zone from a minute before the window
    always = fire_times(engine(INTRUSION), start, 120, [(1, 150)])
    assert always == [("z", ms("2024-03-04T21:59:01"))]
    armed = fire_times(engine({**INTRUSION, "schedule": NIGHTS}), start, 120, [(1, 150)])
    assert armed == [("z", ms("2024-03-04T22:00:01"))]  # the dwell counts from 22:00:00


def test_dwell_before_the_window_does_not_count_for_loitering() -> None:
    rule = {"id": "l", "type": "loitering", "zone": "right", "min_dwell_s": 60, "schedule": NIGHTS}
    e = engine(rule)
    start = ms("2024-03-04T21:59:30")
    fired: list[tuple[int, Finding]] = []
    for s in range(120):
        fired.extend(
            (s, f) for f in e.evaluate(FrameContext.of(tracked([(1, 150)]), start + s * 1000, RES_WH))
        )
    assert len(fired) == 1
    s, finding = fired[0]
    assert start + s * 1000 == ms("2024-03-04T22:01:00")
    assert isinstance(finding.attributes, LoiteringAttributes)
    assert finding.attributes.episode_start_ts_ms == ms("2024-03-04T22:00:00")


def test_nothing_fires_after_the_window_closes() -> None:
    rule = {**INTRUSION, "cooldown_s": 30, "realert_s": 30, "schedule": NIGHTS}
    fired = fire_times(engine(rule), ms("2024-03-05T05:58:00"), 240, [(1, 150)])
    # fires at 05:58:01, again every 30 s while it stays, never at or after 06:00
    assert [ts for _, ts in fired] == [ms("2024-03-05T05:58:01") + 30_000 * k for k in range(4)]


# --- minimum object size ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("min_area", "min_height", "expected_ids"),
    [
        (0, 0, [1, 2, 3]),
        (0, 20, [2, 3]),  # heights 10, 20, 40: at or above 20
        (300, 0, [3]),  # areas 100, 200, 400 (widths 10)
        (200, 30, [3]),
        (401, 0, []),
    ],
)
def test_eligible_drops_small_objects(min_area: float, min_height: float, expected_ids: list[int]) -> None:
    rule = RuleBase(id="r", min_box_area_px=min_area, min_box_height_px=min_height)
    dets = sv.Detections.merge([tracked([(i, 150)], height_px=h) for i, h in ((1, 10), (2, 20), (3, 40))])
    kept = eligible(dets, rule)
    assert kept.tracker_id is not None
    assert kept.tracker_id.tolist() == expected_ids
    assert len(eligible(dets, rule, require_track=False)) == len(expected_ids)


def test_untracked_boxes_are_eligible_only_when_the_rule_asks() -> None:
    dets = tracked([(1, 150), (2, 160)])
    dets.tracker_id = None
    rule = RuleBase(id="r")
    assert len(eligible(dets, rule)) == 0
    assert len(eligible(dets, rule, require_track=False)) == 2


def test_min_size_applies_to_existing_rules_too() -> None:
    small = {**INTRUSION, "min_box_height_px": 25}
    assert fire_times(engine(small), 0, 5, [(1, 150)]) == []  # the box is 20 px tall
    assert fire_times(engine({**small, "min_box_height_px": 20}), 0, 5, [(1, 150)]) == [("z", 1000)]


# --- cooldowns and stationary objects ----------------------------------------------------------------


def test_cooldown_is_per_key_and_track() -> None:
    cd = Cooldown(1000)
    assert cd.ready(1, 0)
    cd.mark(1, 0)
    assert not cd.ready(1, 999) and cd.ready(1, 1000)
    assert cd.ready(2, 500) and cd.ready(1, 500, key="out")


def run_intrusion(rule: dict[str, object], xs: list[float]) -> list[int]:
    e = engine(rule)
    return [
        i for i, x in enumerate(xs) for _ in e.evaluate(FrameContext.of(tracked([(1, x)]), i * 100, RES_WH))
    ]


STAY = {
    "id": "z",
    "type": "zone_intrusion",
    "zone": "right",
    "min_dwell_s": 0.3,
    "cooldown_s": 1,
    "realert_s": 1,  # repeat while it stays, so stationary_px has something to suppress
}


@pytest.mark.parametrize(
    ("rule", "xs", "expected_frames"),
    [
        (STAY, [150.0] * 25, [3, 13, 23]),  # re-alerts after each 1 s cooldown (stationary_px 0: off)
        ({**STAY, "stationary_px": 5}, [150.0] * 25, [3]),  # has not moved: no re-alert
        ({**STAY, "stationary_px": 5}, [110.0 + 3 * i for i in range(25)], [3, 13, 23]),  # walks 30 px/s
        ({**STAY, "stationary_px": 40}, [110.0 + 3 * i for i in range(25)], [3, 23]),  # 30 px < 40 px
    ],
)
def test_stationary_objects_never_re_alert(
    rule: dict[str, object], xs: list[float], expected_frames: list[int]
) -> None:
    assert run_intrusion(rule, xs) == expected_frames


def test_counting_rules_ignore_stationary_px() -> None:
    line = {"id": "l", "type": "line_crossing", "line": "mid", "cooldown_s": 0, "stationary_px": 1000}
    xs = [40.0, 160.0, 40.0, 160.0]
    assert run_intrusion(line, xs) == [1, 2, 3]


# --- zones in pixels -------------------------------------------------------------------------------------


def test_inside_agrees_with_supervision_polygon_zone() -> None:
    """`inside` is PolygonZone.trigger (bottom centre) without the overheads: same answers, edges and
    boxes outside the frame included."""
    zone = ZoneConfig(id="z", polygon_xy=[(0.1, 0.2), (0.9, 0.1), (0.7, 0.95), (0.2, 0.7)])
    polygon = zone_in_pixels(zone, (320, 240))
    rng = np.random.default_rng(7)
    corners = rng.uniform(-60, 380, size=(2000, 2))
    xyxy = np.c_[corners, corners + rng.uniform(1, 80, size=(2000, 2))].astype(np.float32)
    dets = sv.Detections(xyxy=xyxy)
    got = inside(polygon, dets)
    assert got.dtype == bool
    assert got.tolist() == polygon.trigger(dets).tolist()
    assert 300 < int(got.sum()) < 1700  # both answers well represented
    assert inside(polygon, sv.Detections.empty()).tolist() == []


# --- the new event types in the published JSON Schema ---------------------------------------------------

GOOD_ATTRIBUTES: list[dict[str, object]] = [
    {"type": "zone_occupancy", "zone_id": "z", "transition": "enter", "occupancy": {"person": 2}},
    {"type": "zone_occupancy", "zone_id": "z", "transition": "exit", "occupancy": {}, "lost": True},
    {"type": "loitering", "zone_id": "z", "dwell_s": 31.5, "episode_start_ts_ms": 1_700_000_000_000},
    {"type": "crowd", "zone_id": "z", "phase": "end", "count": 1, "peak_count": 9, "duration_s": 75.2},
    {
        "type": "fall",
        "confirmed_frames": 3,
        "aspect_before": 2.8,
        "aspect_after": 0.4,
        "upright_seen_ts_ms": 5,
    },
    {"type": "line_crossing", "line_id": "l", "direction": "in", "count_in": 12, "count_out": 7},
    {"type": "line_crossing", "line_id": "l", "direction": "in"},  # a 1.1 event before counts
]
BAD_ATTRIBUTES: list[dict[str, object]] = [
    {"type": "zone_occupancy", "zone_id": "z", "transition": "sideways", "occupancy": {}},
    {"type": "zone_occupancy", "zone_id": "z", "transition": "enter", "occupancy": {"person": -1}},
    {"type": "loitering", "zone_id": "z", "dwell_s": 3},
    {"type": "crowd", "zone_id": "z", "phase": "middle", "count": 1, "peak_count": 9, "duration_s": 1},
    {
        "type": "fall",
        "confirmed_frames": 0,
        "aspect_before": 2.8,
        "aspect_after": 0.4,
        "upright_seen_ts_ms": 5,
    },
    {"type": "line_crossing", "line_id": "l", "direction": "in", "count_in": -1},
]


def _event_with(attributes: dict[str, object]) -> dict[str, object]:
    data: dict[str, object] = json.loads(make_event(1).to_json_bytes())
    return {**data, "type": attributes["type"], "attributes": attributes}


@pytest.mark.parametrize("attributes", GOOD_ATTRIBUTES)
def test_new_event_types_validate_against_the_published_schema(attributes: dict[str, object]) -> None:
    jsonschema.validate(_event_with(attributes), published_event_schema())


@pytest.mark.parametrize("attributes", BAD_ATTRIBUTES)
def test_wrong_attributes_of_new_event_types_do_not_validate(attributes: dict[str, object]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_event_with(attributes), published_event_schema())


def test_reported_once_says_first_once_per_key_and_forgets_the_oldest_half() -> None:
    reported: ReportedOnce[int] = ReportedOnce(max_entries=4)
    assert [reported.first(k) for k in (1, 2, 1, 3, 2)] == [True, True, False, True, False]
    assert [reported.first(k) for k in (4, 5)] == [True, True]  # 5 keys > 4: 1 and 2 forgotten
    assert [reported.first(k) for k in (3, 4, 5)] == [False, False, False]
    assert reported.first(1) and reported.first(2)  # forgotten: first again
