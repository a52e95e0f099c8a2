"""What the fakes of the list APIs (face watchlists, plate hotlists) share: a store whose methods can be
made to fail, and a publisher keeping the changes it is given."""

from __future__ import annotations

from typing import Generic, TypeVar

from events.ports import BusError, StoreError

C = TypeVar("C")


class FailingMethods:
    """A fake store whose method named in `failing` raises `StoreError` (each calls `_check` first)."""

    def __init__(self) -> None:
        self.failing: set[str] = set()

    def _check(self, method: str) -> None:
        if method in self.failing:
            raise StoreError(f"{method} failed (test)")


class RecordingPublisher(Generic[C]):
    """A publisher keeping the changes; `fail` makes `publish` raise `BusError`."""

    def __init__(self) -> None:
        self.changes: list[C] = []
        self.fail = False

    def publish(self, change: C) -> None:
        if self.fail:
            raise BusError("bus down (test)")
        self.changes.append(change)
