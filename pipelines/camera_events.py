"""The event types the camera supervisor emits about a camera's health (not rules: no config)."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import ConfigDict, Field

from events.schema import EventAttributes
from pipelines.analytics.spec import EventKind

OFFLINE: Final = "camera_offline"
ONLINE: Final = "camera_online"


class CameraOfflineAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["camera_offline"] = OFFLINE
    cause: Literal["unreachable", "not_found", "unauthorized", "stream_ended", "stalled", "decode_error"]
    detail: str = Field(
        default="", max_length=500, description="the source's own words, credentials redacted"
    )
    last_frame_ts_ms: int | None = Field(default=None, ge=0, description="UTC ms of the last frame received")


class CameraOnlineAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["camera_online"] = ONLINE
    downtime_s: float | None = Field(
        default=None, ge=0, description="seconds since it went offline; null on the camera's first start"
    )
    resolution_wh: tuple[int, int] | None = None


CAMERA_KINDS: tuple[EventKind, ...] = (
    EventKind(OFFLINE, "Camera offline", CameraOfflineAttributes),
    EventKind(ONLINE, "Camera online", CameraOnlineAttributes),
)
