"""The live alert feed's service side: who may subscribe, what each client receives, the limits.

`LiveHub` (one per app) counts the connected clients (at most `live_clients_max`), subscribes each to
the broadcaster with a filter (its camera scope, camera, types, alerts only) evaluated on the
publisher's thread, so a client is only woken for what it will be sent, and encodes each event's frame
once for all the clients that receive it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from api.alert_schemas import AlertOut
from api.live_bridge import AsyncSubscription, LoopWakers
from api.live_schemas import LiveEventOut, LiveHelloOut, LiveParams, LivePingOut, filters_out
from api.principal import Principal
from events.alert_state import AlertState
from events.bus.broadcast import EventBroadcaster, EventFilter
from events.schema import Event

logger = logging.getLogger(__name__)

#: Encoded event frames kept for the clients still to send them (per app).
_FRAME_CACHE_SIZE = 1024


class LiveUnavailableError(RuntimeError):
    """This process has no live feed (no broadcaster) (-> 503 / close 1013)."""


class LiveFullError(RuntimeError):
    """Too many live clients on this process (-> 503 / close 1013)."""


def event_filter(principal: Principal, params: LiveParams) -> EventFilter:
    """What one client receives: its scope, then its filters (an out-of-scope camera never passes)."""
    scope, camera_id, types, alerts_only = (
        principal.scope,
        params.camera_id,
        frozenset(params.type),
        params.alerts_only,
    )

    def accepts(event: Event) -> bool:
        return (
            (not alerts_only or event.alert)
            and (camera_id is None or event.camera_id == camera_id)
            and (not types or event.type in types)
            and scope.allows(event.camera_id, event.site_id)
        )

    return accepts


class LiveClient:
    """One connected client: its subscription and its slot on the hub. `close()` is idempotent."""

    def __init__(self, hub: LiveHub, subscription: AsyncSubscription, params: LiveParams, name: str) -> None:
        self.hub = hub
        self.name = name
        self.params = params
        self.subscription = subscription
        self._closed = False

    async def next_frames(self, timeout_s: float | None) -> list[str]:
        """The frames of the events queued for this client (waiting up to `timeout_s`; [] on timeout)."""
        return [self.hub.frame(e) for e in await self.subscription.next_batch(timeout_s)]

    def hello(self) -> str:
        return LiveHelloOut(filters=filters_out(self.params)).model_dump_json()

    def ping(self) -> str:
        return LivePingOut(ts_ms=int(time.time() * 1000), dropped=self.subscription.dropped).model_dump_json()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.subscription.close()
            self.hub._release()


class LiveHub:
    """The live feed of one app: client slots, subscriptions, frames encoded once per event."""

    def __init__(
        self,
        broadcaster: EventBroadcaster,
        *,
        queue_max: int,
        clients_max: int,
        sops: Callable[[str, str], str] | None = None,
    ) -> None:
        self.broadcaster = broadcaster
        self.queue_max = queue_max
        self.clients_max = clients_max
        self._sops = sops
        self._wakers = LoopWakers()
        self._lock = threading.Lock()
        self._clients = 0
        self._frames: OrderedDict[object, str] = OrderedDict()

    @property
    def clients(self) -> int:
        return self._clients

    def open(self, principal: Principal, params: LiveParams, name: str) -> LiveClient:
        """A client slot and subscription (call it on the loop that reads it); LiveFullError if full."""
        with self._lock:
            if self._clients >= self.clients_max:
                raise LiveFullError(
                    f"too many live clients on this server (max {self.clients_max}); retry later"
                )
            self._clients += 1
        try:
            sub = AsyncSubscription(
                self.broadcaster,
                self._wakers.for_running_loop(),
                max_queued=self.queue_max,
                accepts=event_filter(principal, params),
                name=name,
            )
        except BaseException:
            self._release()
            raise
        logger.debug("live client %s connected (%d now)", name, self._clients)
        return LiveClient(self, sub, params, name)

    def _release(self) -> None:
        with self._lock:
            self._clients -= 1

    def frame(self, event: Event) -> str:
        """The `event` frame's JSON, encoded once for every client that gets it."""
        key = event.event_id
        with self._lock:
            text = self._frames.get(key)
            if text is not None:
                return text
        sop = self._sops(event.camera_id, event.rule_id) if self._sops is not None else ""
        text = LiveEventOut(event=AlertOut.of(event, AlertState.NEW, sop)).model_dump_json()
        with self._lock:
            self._frames[key] = text
            while len(self._frames) > _FRAME_CACHE_SIZE:
                self._frames.popitem(last=False)
        return text
