"""Every rule type, listed explicitly. Adding a rule type = its module + one line here + its tests.

From this list come the rule config union of the YAML/API (`RuleConfig`), the event types and their
attribute models (`pipelines.event_kinds`), the published JSON Schema and the console's labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from pipelines.analytics import (
    camera_tamper,
    code_read,
    crowd,
    face_match,
    face_unknown,
    fall,
    fire,
    line_crossing,
    loitering,
    object_abandoned,
    object_removed,
    plate_match,
    plate_read,
    smoke,
    zone_intrusion,
    zone_occupancy,
)
from pipelines.analytics.spec import RuleBase, RulePlugin

RULE_PLUGINS: tuple[RulePlugin, ...] = (
    zone_intrusion.PLUGIN,
    line_crossing.PLUGIN,
    zone_occupancy.PLUGIN,
    loitering.PLUGIN,
    crowd.PLUGIN,
    fall.PLUGIN,
    fire.PLUGIN,
    smoke.PLUGIN,
    camera_tamper.PLUGIN,
    object_abandoned.PLUGIN,
    object_removed.PLUGIN,
    face_match.PLUGIN,
    face_unknown.PLUGIN,
    plate_read.PLUGIN,
    plate_match.PLUGIN,
    code_read.PLUGIN,
)

PLUGINS_BY_TYPE: dict[str, RulePlugin] = {p.kind.event_type: p for p in RULE_PLUGINS}

if TYPE_CHECKING:
    RuleConfig = RuleBase
else:
    RuleConfig = Annotated[Union[tuple(p.config for p in RULE_PLUGINS)], Field(discriminator="type")]  # noqa: UP007


def rule_type_names() -> list[str]:
    return [p.kind.event_type for p in RULE_PLUGINS]
