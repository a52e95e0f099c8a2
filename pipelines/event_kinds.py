"""Every event type anfang produces: the rule plugins' and the camera supervisor's, in one list.

The composition root hands it to the API (labels, counts) and to `anfang schema` (the published JSON
Schema); consumers still store and serve event types that are not in it (forward compatibility).
"""

from __future__ import annotations

from pipelines.analytics.registry import RULE_PLUGINS
from pipelines.analytics.spec import EventKind
from pipelines.camera_events import CAMERA_KINDS
from pipelines.sensors.kinds import SENSOR_KINDS

EVENT_KINDS: tuple[EventKind, ...] = (*(p.kind for p in RULE_PLUGINS), *CAMERA_KINDS, *SENSOR_KINDS)
