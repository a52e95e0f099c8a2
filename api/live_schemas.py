"""Query parameters and frames of the live alert feed (`/v1/alerts/live`, WebSocket and SSE).

Every frame is one JSON object with a `kind`: `hello` (on connect, the filters in force), `event` (an
alert as `/v1/alerts` serves it, its state `new`: nobody has acted on it yet), `ping` (keepalive).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.alert_schemas import AlertOut
from events.schema import EVENT_TYPE_PATTERN


class LiveParams(BaseModel):
    """Filters of the live feed; an out-of-scope `camera_id` behaves like an unknown one (nothing comes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: str | None = Field(default=None, min_length=1, max_length=256, description="only this camera")
    type: list[Annotated[str, Field(pattern=EVENT_TYPE_PATTERN)]] = Field(
        default_factory=list, max_length=64, description="repeatable: type=a&type=b (see /v1/event-types)"
    )
    alerts_only: bool = Field(default=True, description="only events with alert=true")
    token: str | None = Field(
        default=None,
        repr=False,
        description="access token or API key, for clients that cannot set the Authorization header "
        "(browsers' WebSocket); the Authorization header wins when both are sent; never logged",
    )


class LiveFiltersOut(BaseModel):
    camera_id: str | None
    type: list[str]
    alerts_only: bool


class LiveHelloOut(BaseModel):
    kind: Literal["hello"] = "hello"
    filters: LiveFiltersOut


class LivePingOut(BaseModel):
    kind: Literal["ping"] = "ping"
    ts_ms: int = Field(description="server time, UTC epoch ms")
    dropped: int = Field(ge=0, description="events dropped so far because this client fell behind")


class LiveEventOut(BaseModel):
    kind: Literal["event"] = "event"
    event: AlertOut = Field(description="the alert as /v1/alerts serves it (state new: nobody acted yet)")


def filters_out(params: LiveParams) -> LiveFiltersOut:
    return LiveFiltersOut(camera_id=params.camera_id, type=list(params.type), alerts_only=params.alerts_only)
