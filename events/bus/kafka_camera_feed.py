"""The cameras one pipeline worker must run, from the compacted cameras topic and a Kafka consumer group.

Scaling out: every worker joins the same group (e.g. "anfang-workers") and Kafka's rebalance gives
each one some partitions of the cameras topic; a worker runs the cameras whose key lands in its
partitions. No home-made coordinator, no committed offsets: the state is rebuilt from the compacted log.

- On assignment the new partitions are read again from the beginning; only once the feed has caught up
  with their end offsets (taken at assignment) does it emit their net state as puts, so a camera put
  and then deleted is never started. Later records are emitted as they come (tombstone = removal).
- On revocation (another worker takes the partitions, or the group lost this one) it emits removals
  for the cameras of those partitions.
- Cooperative-sticky assignment: a rebalance moves only the partitions that must move, so the other
  cameras of a worker keep running.
- A change is emitted only when the camera's spec changes (a replay of the same spec emits nothing).

Call `poll` at least every second or two: the rebalance listener only queues what happened and
`poll` acts on it, and a rebalance waits for every member to poll. With the defaults a worker that
joins or leaves cleanly (`close()`) moves cameras within a few seconds; one that dies within
`session_timeout_s`; one that does not poll for `max_poll_interval_s` is dropped from the group.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import deque
from typing import Any

from events.bus.kafka_readers import open_consumer, parse_camera_record, topic_partitions
from events.cameras import CameraChange, CameraSpec
from events.ports import CAMERAS_TOPIC, BusError

logger = logging.getLogger(__name__)


def _listener(feed: KafkaCameraFeed) -> Any:
    """A ConsumerRebalanceListener that queues the rebalance for `feed.poll` (it runs on the consumer's
    IO thread, so it must not block) and seeks new partitions to their beginning."""
    from kafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
        def on_partitions_revoked(self, revoked: Any) -> None:
            feed._queue_rebalance("revoked", set(revoked))

        def on_partitions_assigned(self, assigned: Any) -> None:
            if assigned:
                feed._consumer.seek_to_beginning(*assigned)
            feed._queue_rebalance("assigned", set(assigned))

    return Listener()


class KafkaCameraFeed:
    """`CameraFeed` of one worker in consumer group `group_id` on the cameras topic."""

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        topic: str = CAMERAS_TOPIC,
        *,
        client_id: str = "anfang-worker",
        timeout_s: float = 10.0,
        session_timeout_s: float = 10.0,
        max_poll_interval_s: float = 30.0,
    ) -> None:
        from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor

        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        session_timeout_ms = int(session_timeout_s * 1000)
        self._consumer = open_consumer(
            bootstrap,
            client_id,
            timeout_s,
            group_id=group_id,
            auto_offset_reset="earliest",
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(100, session_timeout_ms // 10),
            max_poll_interval_ms=int(max_poll_interval_s * 1000),
            partition_assignment_strategy=(CooperativeStickyAssignor,),
        )
        try:
            topic_partitions(self._consumer, bootstrap, topic)  # the topic must exist
        except BusError:
            self._consumer.close(autocommit=False)
            raise
        self._lock = threading.Lock()
        self._rebalances: deque[tuple[str, set[Any]]] = deque()  # queued by the listener
        self._state: dict[Any, dict[str, CameraSpec | None]] = {}  # assigned partition -> camera -> spec
        self._loading: dict[Any, int | None] = {}  # partition being replayed -> end offset at assignment
        self._emitted: dict[str, tuple[Any, CameraSpec]] = {}  # camera -> (partition, spec) being run
        self._out: list[CameraChange] = []  # changes not yet returned by poll
        self._closed = False
        self._consumer.subscribe([topic], listener=_listener(self))

    @property
    def cameras(self) -> list[str]:
        """The cameras this worker runs now (as emitted so far), sorted."""
        return sorted(self._emitted.copy())

    def poll(self, timeout_s: float) -> list[CameraChange]:
        """Changes since the last poll; BusError when Kafka fails (the changes are kept for the next poll)."""
        from kafka.errors import KafkaError

        if self._closed:
            raise BusError("the camera feed is closed")
        try:
            self._handle_rebalances()
            polled = self._consumer.poll(timeout_ms=max(0, int(timeout_s * 1000)))
            self._handle_rebalances()
            for tp, records in polled.items():
                for rec in records:
                    self._apply(tp, rec)
            self._finish_loading()
        except KafkaError as exc:
            raise BusError(f"Kafka at {self.bootstrap}: poll of {self.topic} failed: {exc}") from exc
        changes, self._out = self._out, []
        return changes

    def close(self) -> None:
        """Leaves the group at once, so the other workers take these cameras without waiting."""
        if not self._closed:
            self._closed = True
            self._consumer.close(autocommit=False, timeout_ms=int(self.timeout_s * 1000))

    # -- internals (on the caller's thread, except _queue_rebalance) -----------------------------

    def _queue_rebalance(self, kind: str, partitions: set[Any]) -> None:
        with self._lock:
            self._rebalances.append((kind, partitions))

    def _handle_rebalances(self) -> None:
        with self._lock:
            rebalances = list(self._rebalances)
            self._rebalances.clear()
        for kind, partitions in rebalances:
            if kind == "revoked":
                for tp in partitions:
                    self._state.pop(tp, None)
                    self._loading.pop(tp, None)
                for camera_id, (tp, _) in sorted(self._emitted.items()):
                    if tp in partitions:
                        self._emit(camera_id, None, tp)
            else:
                for tp in partitions:
                    self._state[tp] = {}
                    self._loading[tp] = None
            logger.info(
                "camera feed %s: %s partitions %s",
                self.topic,
                kind,
                ", ".join(str(tp.partition) for tp in sorted(partitions)) or "none",
            )
        missing = [tp for tp, end in self._loading.items() if end is None]
        if missing:
            ends = self._consumer.end_offsets(missing, timeout_ms=int(self.timeout_s * 1000))
            for tp in missing:
                if tp in ends:
                    self._loading[tp] = int(ends[tp])

    def _apply(self, tp: Any, rec: Any) -> None:
        state = self._state.get(tp)
        if state is None:  # not ours any more
            return
        if rec.key is None:
            logger.warning("record without a key on %s offset %d ignored", self.topic, rec.offset)
            return
        record = parse_camera_record(rec, self.topic)
        if rec.value is not None and record is None:
            return  # not a camera record (logged)
        camera_id = rec.key.decode(errors="replace")
        spec = record.spec if record is not None else None
        state[camera_id] = spec
        if tp not in self._loading:
            self._emit(camera_id, spec, tp)

    def _finish_loading(self) -> None:
        from kafka.errors import IllegalStateError

        for tp, end in list(self._loading.items()):
            if end is None:
                continue
            try:
                position = self._consumer.position(tp, timeout_ms=0)
            except IllegalStateError:  # revoked meanwhile; the listener has queued it
                continue
            if position is not None and position >= end:
                del self._loading[tp]
                state = self._state[tp]
                for camera_id in sorted(state):
                    self._emit(camera_id, state[camera_id], tp)

    def _emit(self, camera_id: str, spec: CameraSpec | None, tp: Any) -> None:
        current = self._emitted.get(camera_id)
        if spec is None:
            if current is not None:
                del self._emitted[camera_id]
                self._out.append(CameraChange(camera_id, None))
        elif current is None or current[1] != spec:
            self._emitted[camera_id] = (tp, spec)
            self._out.append(CameraChange(camera_id, copy.deepcopy(spec)))
