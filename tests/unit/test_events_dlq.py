"""Raw bus messages: valid events parse, everything else becomes a DeadLetter with a one-line reason."""

from __future__ import annotations

import json

import pytest

from events.dlq import MAX_REASON_CHARS, parse_message
from events.ports import DeadLetter
from tests.unit.events_samples import make_event

GOOD = make_event(1).to_json_bytes()


def _with(**changes: object) -> bytes:
    data = json.loads(GOOD)
    data.update(changes)
    return json.dumps(data).encode()


def _without(field: str) -> bytes:
    data = json.loads(GOOD)
    del data[field]
    return json.dumps(data).encode()


def test_a_valid_event_parses() -> None:
    assert parse_message(GOOD, b"cam-1") == make_event(1)


@pytest.mark.parametrize(
    ("raw", "reason_start", "mentions"),
    [
        (b"", "empty message", ""),
        (None, "empty message", ""),
        (b"{not json", "invalid JSON: ", "line 1"),
        (b"\xff\xfe\x00garbage", "invalid JSON: ", ""),
        (b"[1, 2]", "invalid event: event must be a JSON object", ""),
        (_with(schema_version="2.0"), "unsupported schema version: ", "'2.0'"),
        (_with(schema_version="banana"), "unsupported schema version: ", "banana"),
        (_without("schema_version"), "unsupported schema version: ", "''"),
        (_without("camera_id"), "invalid event: camera_id: Field required", ""),
        (_with(severity="apocalyptic"), "invalid event: severity: ", "info"),
        (_with(confidence=1.5, extra_field=1), "invalid event: ", "extra_field"),
        (_with(bbox_xyxy=[0.5, 0.5, 0.1, 0.1]), "invalid event: ", "normalised"),
    ],
)
def test_bad_messages_become_dead_letters_with_a_reason(
    raw: bytes | None, reason_start: str, mentions: str
) -> None:
    parsed = parse_message(raw, b"key-1", origin="anfang.events partition 2 offset 7")
    assert isinstance(parsed, DeadLetter)
    assert parsed.reason.startswith(reason_start), parsed.reason
    assert mentions in parsed.reason
    assert parsed.reason.endswith("(from anfang.events partition 2 offset 7)")
    assert "\n" not in parsed.reason
    assert parsed.raw == (raw or b"")
    assert parsed.key == b"key-1"


def test_long_reasons_are_cut_but_the_message_is_kept_whole() -> None:
    raw = _with(camera_id="", site_id="", rule_id="", label=1, worker_id=2, confidence=9, ts_ms=-1)
    parsed = parse_message(raw, None, origin="x" * 2000)
    assert isinstance(parsed, DeadLetter)
    assert len(parsed.reason) == MAX_REASON_CHARS and parsed.reason.endswith("...")
    assert parsed.raw == raw


def test_a_newer_minor_version_with_an_unknown_type_is_kept_not_dead_lettered() -> None:
    """A 1.x sink stores (and the API serves) event types newer than itself, attributes as they came."""
    newer = _with(
        schema_version="1.7",
        type="gas_leak",
        attributes={"type": "gas_leak", "ppm": 512.5, "sensor": {"id": "g-3", "unit": "ppm"}},
    )
    parsed = parse_message(newer, b"cam-1")
    assert not isinstance(parsed, DeadLetter), parsed
    assert parsed.type == "gas_leak" and parsed.schema_version == "1.7"
    assert json.loads(parsed.to_json_bytes())["attributes"] == json.loads(newer)["attributes"]


def test_attributes_of_a_newer_type_must_still_name_the_event_type() -> None:
    mismatch = _with(type="gas_leak", attributes={"type": "smoke", "ppm": 1})
    parsed = parse_message(mismatch, b"cam-1")
    assert isinstance(parsed, DeadLetter) and "attributes are for 'smoke'" in parsed.reason
