"""Test doubles for the API tests: an in-memory `EventStore` and event/snapshot builders."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from events.ports import EventPage, EventQuery, StoreError
from events.schema import Event, Snapshot
from tests.unit.events_samples import build_event, counts_by_type, matches, newest_first

T0_MS = 1_795_000_000_000  # 2026-11-18T...Z


class FakeEventStore:
    """`events.ports.EventStore` over a dict; time bounds inclusive; `fail` makes every call raise."""

    def __init__(self, events: Sequence[Event] = ()) -> None:
        self.events: dict[uuid.UUID, Event] = {}
        self.fail: str | None = None
        self.queries: list[EventQuery] = []
        self.insert(events)

    def _check(self) -> None:
        if self.fail is not None:
            raise StoreError(self.fail)

    def ensure_schema(self) -> None:
        self._check()

    def insert(self, events: Sequence[Event]) -> int:
        self._check()
        new = [e for e in events if e.event_id not in self.events]
        self.events.update((e.event_id, e) for e in new)
        return len(new)

    def query(self, q: EventQuery) -> EventPage:
        self._check()
        self.queries.append(q)
        hits = newest_first(e for e in self.events.values() if matches(e, q))
        return EventPage(events=hits[q.offset : q.offset + q.limit], total=len(hits))

    def get(self, event_id: uuid.UUID) -> Event | None:
        self._check()
        return self.events.get(event_id)

    def count_by_type(self, camera_id: str | None = None) -> dict[str, int]:
        self._check()
        return counts_by_type(self.events.values(), camera_id)

    def close(self) -> None:
        pass


#: The API tests' event builder: one alert-worthy zone intrusion on "cam-1" unless told otherwise.
make_event = build_event


def jpeg_bytes(seed: int, size_wh: tuple[int, int] = (160, 90)) -> bytes:
    """A real JPEG (encoded by cv2) whose pixels depend on `seed`."""
    w, h = size_wh
    rng = np.random.default_rng(seed)
    image = np.full((h, w, 3), rng.integers(30, 200, size=3), dtype=np.uint8)
    cv2.rectangle(image, (w // 4, h // 4), (w // 2, h - 10), (0, 0, 255), 2)
    cv2.putText(image, f"#{seed}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return bytes(buf.tobytes())


def write_snapshot(data_dir: Path, camera_id: str, event_id: uuid.UUID, content: bytes) -> Snapshot:
    """Writes like pipelines.evidence: `snapshots/<camera>/<day>/<event_id>.jpg`, relative uri + sha256."""
    rel = Path("snapshots") / camera_id / "2026-11-24" / f"{event_id}.jpg"
    (data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (data_dir / rel).write_bytes(content)
    return Snapshot(uri=rel.as_posix(), sha256=hashlib.sha256(content).hexdigest())


def attach_snapshot(data_dir: Path, event: Event, seed: int) -> tuple[Event, bytes]:
    """`event` with a snapshot file written under `data_dir` (matching SHA-256), and the file's bytes."""
    content = jpeg_bytes(seed)
    snap = write_snapshot(data_dir, event.camera_id, event.event_id, content)
    return event.model_copy(update={"snapshot": snap}), content
