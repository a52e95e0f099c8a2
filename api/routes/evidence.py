"""The unblurred original of an event's snapshot: privileged (`evidence:unmask`), purpose-bound, audited.

Stored evidence blurs bystanders' faces; where a camera's policy keeps the original, it lies beside the
blurred snapshot (`originals/<camera>/<day>/<event id>.jpg` for `snapshots/<camera>/<day>/<event id>.jpg`).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.deps import AuditDep, ConfigDep, DataDirDep, StoreDep, require
from api.face_review import load_original_snapshot
from api.principal import Permission, Principal
from api.routes.faces import BiometricRoute, audited, face_action
from api.schemas import ErrorOut

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/events", tags=["events"], route_class=BiometricRoute)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "the unblurred original JPEG"},
    404: {
        "model": ErrorOut,
        "description": "no such event, its camera is outside your scope, or no original was kept",
    },
}


@router.get(
    "/{event_id}/snapshot/original",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=audited("snapshot.unmask"),
)
def get_original_snapshot(
    event_id: uuid.UUID,
    user: Annotated[Principal, require(Permission.EVIDENCE_UNMASK)],
    purpose: Annotated[str, Query(min_length=3, max_length=500, description="why you unmask it (audited)")],
    store: StoreDep,
    data_dir: DataDirDep,
    config: ConfigDep,
    audit: AuditDep,
) -> Response:
    """The snapshot before faces were blurred, where the camera's policy kept it; every view is
    audited as `snapshot.unmask` with its purpose."""
    target = f"event:{event_id}"
    with face_action(audit, "snapshot.unmask", target, actor=user, purpose=purpose):
        content = load_original_snapshot(
            store, data_dir, event_id, max_bytes=config.snapshot_max_bytes, scope=user.scope
        )
    return Response(
        content=content,
        media_type="image/jpeg",
        headers={
            "X-Content-SHA256": hashlib.sha256(content).hexdigest(),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
