"""Wiring of face recognition: the process's face runtime (model, gallery), how the gallery is fed, and
what the API's biometric routes get (store, change publisher, encoder, search, expiry sweeper).

Embedded: one gallery in the process, loaded from the store at start; the API's changes apply to it at
once (it is the API's `GalleryPublisher`). Distributed: every pipeline worker and API instance reads the
compacted faces topic into its own gallery; the API publishes each change there after storing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from anfang.audit_commands import sql_runner
from anfang.change_wiring import change_publisher, close_all, ensure_compacted_topic, start_sweeper
from anfang.settings import Settings
from api.face_services import EncodedFace
from events.audit import AuditRecord, AuditSink
from events.faces import GalleryPublisher, WatchlistChange, erasure_changes, gallery_from_store
from events.ports import EventStore
from events.store.faces_sql import FaceSqlStore
from pipelines.recognition.faces import FaceRuntime
from pipelines.recognition.gallery import FaceGallery
from pipelines.recognition.stage import RecognizerFactory

if TYPE_CHECKING:
    from events.bus.kafka_changes import AnyChange, KafkaChangePublisher

logger = logging.getLogger(__name__)


class ModelEncoder:
    """`api.face_services.FaceEncoder` over the process's face model (encodings as the pipeline's)."""

    def __init__(self, runtime: FaceRuntime) -> None:
        self._runtime = runtime

    def encode(self, image_bgr: npt.NDArray[np.uint8]) -> list[EncodedFace]:
        model = self._runtime.model()
        with self._runtime.lock:
            boxes = model.detect(image_bgr)
            vectors = model.encode(image_bgr, boxes)
            qualities = [model.quality(image_bgr, b, model.landmarks(image_bgr, b)).combined for b in boxes]
        return [
            EncodedFace(b.xyxy, tuple(float(v) for v in vec), q)
            for b, vec, q in zip(boxes, vectors, qualities, strict=True)
        ]


@dataclass(slots=True)
class FaceParts:
    runtime: FaceRuntime
    closers: list[Callable[[], None]] = field(default_factory=list)

    def recognizers(self) -> dict[str, RecognizerFactory]:
        return {"face": self.runtime.recognizer}

    def close(self) -> None:
        close_all(self.closers)


def _face_store(store: EventStore, settings: Settings) -> FaceSqlStore:
    faces = FaceSqlStore(sql_runner(store), mutation_timeout_s=settings.faces_mutation_timeout_s)
    faces.ensure_schema()
    return faces


def _kafka_gallery(settings: Settings) -> KafkaChangePublisher[AnyChange]:
    from events.bus.kafka_changes import KafkaGalleryPublisher

    return KafkaGalleryPublisher(
        settings.kafka_bootstrap, settings.kafka_faces_topic, timeout_s=settings.connect_timeout_s
    )


def start_faces(settings: Settings, store: EventStore | None) -> FaceParts:
    """The face runtime of a pipeline or API process, its gallery filled and kept in sync."""
    index = settings.faces.index
    cache_dir = settings.data_dir / "cache" / "faces" if index.keep_graph else None
    parts = FaceParts(FaceRuntime(FaceGallery(index, cache_dir=cache_dir), settings.faces))
    if settings.mode == "embedded":
        if store is not None:
            parts.runtime.gallery.apply_all(gallery_from_store(_face_store(store, settings)))
        return parts
    from events.bus.kafka_changes import KafkaGalleryReader

    ensure_compacted_topic(settings, settings.kafka_faces_topic)
    reader = KafkaGalleryReader(
        settings.kafka_bootstrap,
        parts.runtime.gallery.apply,
        settings.kafka_faces_topic,
        client_id=f"anfang-faces-{settings.worker_id}",
        timeout_s=settings.connect_timeout_s,
    )
    parts.closers.append(reader.close)
    return parts


def face_api_kwargs(
    parts: FaceParts,
    settings: Settings,
    store: EventStore,
    audit: AuditSink,
    closers: list[Callable[[], None]],
) -> dict[str, Any]:
    """`create_app`'s face arguments; starts the expiry sweeper (stopped by `closers`)."""
    face_store = _face_store(store, settings)
    publisher: GalleryPublisher = change_publisher(settings, parts.runtime.gallery, _kafka_gallery, closers)
    sweep = partial(sweep_expired, face_store, publisher, audit)
    closers.append(start_sweeper(lambda now_ms: sweep(now_ms=now_ms), settings.expiry_every_s, "faces"))
    return {
        "face_store": face_store,
        "gallery": publisher,
        "face_encoder": ModelEncoder(parts.runtime),
        "face_searcher": parts.runtime.gallery,
    }


def sweep_expired(store: FaceSqlStore, publisher: GalleryPublisher, audit: AuditSink, now_ms: int) -> int:
    """Erases what expired; each erasure is published to the workers and audited. Returns how many."""
    negatives = store.list_negatives()  # before they go: their removal is published too
    erased = store.expire(now_ms)
    for kind, item_id in erased:
        if kind == "identity":
            for change in erasure_changes(item_id, "", [n for n in negatives if n.identity_id == item_id]):
                publisher.publish(change)
        else:
            publisher.publish(WatchlistChange(watchlist_id=item_id, watchlist=None))
        audit.append(
            AuditRecord(
                ts_ms=now_ms,
                actor="system",
                action=f"{kind}.expire",
                target=f"{kind}:{item_id}",
                purpose="retention",
                detail="expired: erased with its faces",
            )
        )
    return len(erased)
