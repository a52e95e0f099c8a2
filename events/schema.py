"""The typed, versioned `Event`: the one thing every finding becomes.

Serialised only at the bus boundary (`to_json_bytes` / `from_json_bytes`). Field names follow
DeepStream nvmsgconv's vocabulary where they mean the same (camera = sensor, bbox, event type) and
carry what DeepStream's schema lacks (zone intrusion, line crossing with direction, ...).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, model_validator

SCHEMA_VERSION = "1.2"
SCHEMA_MAJOR = 1

#: Namespace for deterministic event ids: a replayed frame yields the same id, so stores dedupe.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a44-5b0e-4d7e-9a57-0a4e1f3b8c11")


class UnsupportedSchemaVersion(ValueError):  # noqa: N818 (reads as a verdict)
    """A consumer met an event whose major schema version it does not understand."""


#: What an event type name looks like (`zone_intrusion`, `camera_offline`, ...).
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventAttributes(BaseModel):
    """What an event carries beyond the common fields, typed per event type.

    Each event type (a rule, a hazard detector, the camera supervisor) subclasses this with its own
    fields and `type: Literal["<its type>"]` (`extra="forbid"` there). An event parsed from the bus
    comes back as this base class with every field kept (`extra="allow"`): a consumer stores and serves
    the attributes of an event type newer than itself instead of refusing them.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str = Field(pattern=EVENT_TYPE_PATTERN)

    def __eq__(self, other: object) -> bool:
        """Equal when they say the same (a typed instance equals the generic one parsed from its JSON)."""
        if not isinstance(other, EventAttributes):
            return NotImplemented
        return self.model_dump(mode="json") == other.model_dump(mode="json")

    def __hash__(self) -> int:
        return hash(self.model_dump_json())


class Snapshot(_Frozen):
    uri: str = Field(description="where the evidence JPEG lives, relative to the data folder")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    original_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the unblurred original kept beside it (only where the camera's privacy "
        "policy keeps originals)",
    )


class ModelRef(_Frozen):
    name: str
    version: str


class Event(_Frozen):
    event_id: uuid.UUID
    schema_version: str = SCHEMA_VERSION
    ts_ms: int = Field(ge=0, description="UTC milliseconds since the epoch, from the frame's timestamp")
    camera_id: str = Field(min_length=1)
    site_id: str = Field(min_length=1)
    type: str = Field(pattern=EVENT_TYPE_PATTERN, description="the event type (see the attributes)")
    severity: Severity
    alert: bool = Field(description="severity reached the rule's alert severity: operators are alerted")
    rule_id: str = Field(min_length=1)
    track_id: int | None = None
    label: str
    confidence: float = Field(ge=0, le=1)
    bbox_xyxy: tuple[float, float, float, float] = Field(description="normalised 0..1 to the frame size")
    attributes: SerializeAsAny[EventAttributes]
    snapshot: Snapshot | None = None
    model: ModelRef
    worker_id: str

    @model_validator(mode="after")
    def _check(self) -> Event:
        if self.attributes.type != self.type:
            raise ValueError(f"attributes are for {self.attributes.type!r}, event is {self.type!r}")
        x1, y1, x2, y2 = self.bbox_xyxy
        if not (0 <= x1 <= x2 <= 1 and 0 <= y1 <= y2 <= 1):
            raise ValueError(f"bbox_xyxy must be normalised 0..1 with x1<=x2, y1<=y2, got {self.bbox_xyxy}")
        return self

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json_bytes(cls, raw: bytes | str) -> Event:
        """Parse a bus message; refuses unknown major versions loudly."""
        import json

        data: Any = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("event must be a JSON object")
        check_schema_version(str(data.get("schema_version", "")))
        return cls.model_validate(data)


def check_schema_version(version: str) -> None:
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) != SCHEMA_MAJOR:
        raise UnsupportedSchemaVersion(
            f"event schema_version {version!r} is not supported (this consumer reads major {SCHEMA_MAJOR})"
        )


def make_event_id(
    camera_id: str, rule_id: str, track_id: int | None, ts_ms: int, discriminator: str = ""
) -> uuid.UUID:
    """Deterministic id: the same finding on the same frame always gets the same id."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{camera_id}|{rule_id}|{track_id}|{ts_ms}|{discriminator}")


def event_json_schema(kinds: Sequence[type[EventAttributes]] = ()) -> dict[str, Any]:
    """The JSON Schema published for this version (written to events/schemas/ by `anfang schema`).

    `kinds`: the attribute models of every known event type; the schema checks the attributes of a
    known type against its model and accepts any other type's attributes as an object with a `type`.
    """
    schema = Event.model_json_schema()
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    rules: list[dict[str, Any]] = []
    for model in kinds:
        sub = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(sub.pop("$defs", {}))
        defs[model.__name__] = sub
        type_name = model.model_fields["type"].default
        rules.append(
            {
                "if": {"properties": {"type": {"const": type_name}}, "required": ["type"]},
                "then": {"properties": {"attributes": {"$ref": f"#/$defs/{model.__name__}"}}},
            }
        )
    if rules:
        schema["allOf"] = rules
    schema["$id"] = f"https://anfang.example/schemas/event/{SCHEMA_VERSION}.json"
    schema["title"] = f"anfang Event v{SCHEMA_VERSION}"
    return schema
