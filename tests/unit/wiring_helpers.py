"""What the end-to-end wiring tests (faces, plate hotlists) share: a part of the composition root started
embedded on a store, with an API client wired to it as `anfang serve` wires it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fastapi.testclient import TestClient

from anfang.settings import Settings
from events.audit import AuditSink
from events.ports import EventStore
from tests.unit.api_fakes import ListAuditSink, signed_in_client

Closers = list[Callable[[], None]]


class _Parts(Protocol):
    closers: Closers


P = TypeVar("P", bound=_Parts)


def started_embedded(
    start: Callable[[Settings, EventStore], P],
    api_kwargs: Callable[[P, Settings, EventStore, AuditSink, Closers], dict[str, Any]],
    store: EventStore,
    data_dir: Path,
    audit: ListAuditSink,
) -> tuple[P, TestClient]:
    """`start(settings, store)` in embedded mode, and an admin's client of the app given
    `api_kwargs(parts, ...)` (what those start is closed with the parts)."""
    settings = Settings(data_dir=data_dir, mode="embedded")
    parts = start(settings, store)
    closers: Closers = []
    kwargs = api_kwargs(parts, settings, store, audit, closers)
    parts.closers.extend(closers)
    return parts, signed_in_client(settings.data_dir, audit, store=store, **kwargs)
