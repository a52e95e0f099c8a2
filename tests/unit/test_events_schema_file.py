"""The published JSON Schema file is what the code generates, and it accepts/refuses what the model does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from anfang.wiring import published_event_schema
from events.schema import SCHEMA_VERSION, Event
from tests.unit.events_samples import make_event

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "events" / "schemas" / f"event-{SCHEMA_VERSION}.json"


def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


def test_the_file_is_what_the_code_generates() -> None:
    assert _schema() == published_event_schema(), (
        f"stale: regenerate with `anfang schema --out {SCHEMA_FILE}`"
    )
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json.dumps(published_event_schema(), indent=2) + "\n"


def test_the_schema_itself_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(_schema())


@pytest.mark.parametrize("i", [0, 1, 2, 3])
def test_sample_events_validate(i: int) -> None:
    event = make_event(i, event_type="line_crossing" if i % 2 else "zone_intrusion")
    jsonschema.validate(json.loads(event.to_json_bytes()), _schema())


def _sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(make_event(1).to_json_bytes())
    return data


@pytest.mark.parametrize(
    "change",
    [
        {"camera_id": ""},
        {"severity": "apocalyptic"},
        {"type": "Not a type!"},
        {"attributes": {"type": "line_crossing", "line_id": "l", "direction": "sideways"}},
        {"confidence": 1.5},
        {"ts_ms": -1},
        {"bbox_xyxy": [0.1, 0.2]},
        {"unexpected": True},
        {"snapshot": {"uri": "a.jpg", "sha256": "not-hex"}},
        {"attributes": {"type": "zone_intrusion", "zone_id": "z", "dwell_s": -1}},
    ],
)
def test_wrong_events_do_not_validate(change: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**_sample(), **change}, _schema())


def test_missing_required_field_does_not_validate() -> None:
    data = _sample()
    del data["event_id"]
    with pytest.raises(jsonschema.ValidationError, match="event_id"):
        jsonschema.validate(data, _schema())


def test_an_event_of_a_newer_type_validates_and_parses_with_its_attributes_kept() -> None:
    """Forward compatibility: a 1.x consumer stores and serves a type it does not know."""
    data = {
        **_sample(),
        "schema_version": "1.9",
        "type": "drone_sighting",
        "attributes": {"type": "drone_sighting", "altitude_m": 42.5, "rotors": [1, 2, 3, 4]},
    }
    jsonschema.validate(data, _schema())
    event = Event.from_json_bytes(json.dumps(data))
    assert event.type == "drone_sighting"
    assert event.attributes.model_dump() == data["attributes"]
    assert json.loads(event.to_json_bytes())["attributes"] == data["attributes"]
