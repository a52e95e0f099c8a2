"""Wiring of plate and code reading: the process's readers and plate hotlists, how the hotlists are fed,
and what the API's hotlist routes get (store, change publisher, expiry sweeper).

Embedded: one hotlist book in the process, loaded from the store at start; the API's changes apply to
it at once. Distributed: every pipeline worker reads the compacted hotlists topic into its own book; the
API publishes each list's new state there after storing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from anfang.audit_commands import sql_runner
from anfang.change_wiring import change_publisher, close_all, ensure_compacted_topic, start_sweeper
from anfang.settings import Settings
from events.audit import AuditRecord, AuditSink
from events.hotlists import (
    HotlistChange,
    HotlistPublisher,
    hotlist_change,
    hotlist_change_key,
    hotlist_removed,
    hotlists_from_store,
)
from events.ports import EventStore
from events.store.hotlists_sql import HotlistSqlStore
from pipelines.recognition.hotlist_book import HotlistBook
from pipelines.recognition.readers import ReaderRuntime

if TYPE_CHECKING:
    from events.bus.kafka_changes import KafkaChangePublisher

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ReaderParts:
    runtime: ReaderRuntime
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        close_all(self.closers)


def _hotlist_store(store: EventStore) -> HotlistSqlStore:
    hotlists = HotlistSqlStore(sql_runner(store))
    hotlists.ensure_schema()
    return hotlists


def _kafka_hotlists(settings: Settings) -> KafkaChangePublisher[HotlistChange]:
    from events.bus.kafka_changes import KafkaChangePublisher

    return KafkaChangePublisher(
        settings.kafka_bootstrap,
        settings.kafka_hotlists_topic,
        key=hotlist_change_key,
        encode=lambda change: change.model_dump_json().encode(),
        client_id="anfang-hotlists",
        timeout_s=settings.connect_timeout_s,
    )


def start_readers(settings: Settings, store: EventStore | None) -> ReaderParts:
    """The plate/code readers of a pipeline or API process, its hotlists filled and kept in sync."""
    parts = ReaderParts(ReaderRuntime(HotlistBook(), settings.plates, settings.codes))
    book = parts.runtime.hotlists
    if settings.mode == "embedded":
        if store is not None:
            for change in hotlists_from_store(_hotlist_store(store)):
                book.apply(change)
        return parts
    from events.bus.kafka_changes import KafkaChangeReader

    ensure_compacted_topic(settings, settings.kafka_hotlists_topic)
    reader = KafkaChangeReader(
        settings.kafka_bootstrap,
        settings.kafka_hotlists_topic,
        book.apply,
        decode=HotlistChange.model_validate_json,
        client_id=f"anfang-hotlists-{settings.worker_id}",
        timeout_s=settings.connect_timeout_s,
    )
    parts.closers.append(reader.close)
    return parts


def hotlist_api_kwargs(
    parts: ReaderParts,
    settings: Settings,
    store: EventStore,
    audit: AuditSink,
    closers: list[Callable[[], None]],
) -> dict[str, Any]:
    """`create_app`'s hotlist arguments; starts the expiry sweeper (stopped by `closers`)."""
    hotlist_store = _hotlist_store(store)
    publisher: HotlistPublisher = change_publisher(settings, parts.runtime.hotlists, _kafka_hotlists, closers)

    def sweep(now_ms: int) -> int:
        return sweep_expired_hotlists(hotlist_store, publisher, audit, now_ms)

    closers.append(start_sweeper(sweep, settings.expiry_every_s, "hotlists"))
    return {"hotlist_store": hotlist_store, "hotlists": publisher}


def sweep_expired_hotlists(
    store: HotlistSqlStore, publisher: HotlistPublisher, audit: AuditSink, now_ms: int
) -> int:
    """Erases expired lists and entries; each changed list's new state is published and audited."""
    changed = store.expire(now_ms)
    for hotlist_id in changed:
        hotlist = store.get_hotlist(hotlist_id)
        if hotlist is None:
            publisher.publish(hotlist_removed(hotlist_id))
        else:
            publisher.publish(hotlist_change(hotlist, store.list_entries(hotlist_id)))
        audit.append(
            AuditRecord(
                ts_ms=now_ms,
                actor="system",
                action="hotlist.expire",
                target=f"hotlist:{hotlist_id}",
                detail="expired list or entries removed",
            )
        )
    return len(changed)
