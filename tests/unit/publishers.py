"""An event publisher for tests that keeps what it is given (the camera worker's, the sensor hub's)."""

from __future__ import annotations

from events.schema import Event


class Collect:
    """An `EventPublisher` keeping every event it is given, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def flush(self, timeout_s: float = 30.0) -> None:
        return None

    def close(self) -> None:
        return None

    def of_type(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]
