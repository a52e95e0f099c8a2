"""Face watchlists and their identities: create / change / delete lists, enrol identities from images,
add images, erase; read lists, identities and enrolled faces (never a vector; an image only on its own
route, with a purpose). Every change, erasure and image view is audited with its stated purpose."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from api import face_enrolment, face_services
from api.config import ApiConfig
from api.deps import AuditDep, RequestAudit, require
from api.face_schemas import (
    ErasureOut,
    IdentityListOut,
    IdentityOut,
    WatchlistIn,
    WatchlistListOut,
    WatchlistOut,
    WatchlistPatch,
)
from api.principal import Permission, Principal
from api.route_helpers import PageDep
from api.routes.faces import (
    ERRORS,
    UPLOAD_ERRORS,
    BiometricRoute,
    FaceBackendDep,
    PurposeForm,
    audited,
    face_action,
    upload,
    upload_limits,
)
from events.faces import Erasure

logger = logging.getLogger(__name__)

Reader = Annotated[Principal, require(Permission.FACES_READ)]
Enroler = Annotated[Principal, require(Permission.FACES_ENROL)]
PurposeQuery = Annotated[
    str, Query(min_length=3, max_length=500, description="why this biometric action (audited; required)")
]
Images = Annotated[list[UploadFile], File(description="photos, each with exactly one face of the person")]


def create_watchlist(
    user: Enroler, body: WatchlistIn, backend: FaceBackendDep, audit: AuditDep
) -> WatchlistOut:
    """A new watchlist (wanted, missing person, VIP, staff, ...) with its threshold, severity and expiry."""
    with face_action(audit, "watchlist.create", "watchlists", actor=user, purpose=body.purpose) as done:
        record = face_services.create_watchlist(backend, body.model_dump(), actor=user.actor)
        done.target, done.detail = f"watchlist:{record.watchlist_id}", record.name
    return WatchlistOut.of(record)


def list_watchlists(user: Reader, backend: FaceBackendDep) -> WatchlistListOut:
    return WatchlistListOut(items=[WatchlistOut.of(w) for w in face_services.list_watchlists(backend)])


def get_watchlist(user: Reader, watchlist_id: str, backend: FaceBackendDep) -> WatchlistOut:
    return WatchlistOut.of(face_services.get_watchlist(backend, watchlist_id))


def update_watchlist(
    user: Enroler, watchlist_id: str, body: WatchlistPatch, backend: FaceBackendDep, audit: AuditDep
) -> WatchlistOut:
    """Changes name, threshold, severity or expiry (null removes it); `purpose` says why (audited)."""
    target, changes = f"watchlist:{watchlist_id}", body.changes()
    with face_action(audit, "watchlist.update", target, actor=user, purpose=body.purpose) as done:
        record = face_services.update_watchlist(backend, watchlist_id, changes)
        done.detail = body.changes_text()
    return WatchlistOut.of(record)


def delete_watchlist(
    user: Enroler, watchlist_id: str, purpose: PurposeQuery, backend: FaceBackendDep, audit: AuditDep
) -> ErasureOut:
    """Erases the list and every identity, enrolled face, image and negative of it, for good."""
    erase = partial(face_services.delete_watchlist, backend, watchlist_id)
    return _erased(audit, "watchlist.delete", f"watchlist:{watchlist_id}", user, purpose, erase)


def enrol_identity(
    user: Enroler,
    watchlist_id: str,
    backend: FaceBackendDep,
    audit: AuditDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    purpose: PurposeForm,
    images: Images,
    reference: Annotated[str, Form(max_length=200, description="your own case or file id")] = "",
    expires_ts_ms: Annotated[int | None, Form(ge=0, description="UTC epoch ms when it is erased")] = None,
) -> IdentityOut:
    """A new identity in the list from one or more photos, each with exactly one face (else 422 naming
    the image and the faces found). Every image is checked before anything is stored."""
    target = f"watchlist:{watchlist_id}"
    fields = {"name": name, "purpose": purpose, "reference": reference, "expires_ts_ms": expires_ts_ms}
    with face_action(audit, "face.enrol", target, actor=user, purpose=purpose) as done:
        identity, faces = face_enrolment.enrol(
            backend, watchlist_id, fields=fields, uploads=[upload(f) for f in images], actor=user.actor
        )
        shas = ", ".join(f.image_sha256[:12] for f in faces)
        done.target = f"identity:{identity.identity_id}"
        done.detail = f"watchlist {watchlist_id}; {len(faces)} images; sha256 {shas}"
    return IdentityOut.of(identity, faces)


def list_identities(
    user: Reader, watchlist_id: str, backend: FaceBackendDep, page: PageDep
) -> IdentityListOut:
    """The list's identities by name, each with its enrolled faces (ids, SHA-256, quality)."""
    identities = face_services.list_identities(backend, watchlist_id)
    items = [IdentityOut.of(i, face_services.faces_of(backend, i.identity_id)) for i in page.of(identities)]
    return IdentityListOut(items=items, **page.meta(len(identities)))


def get_identity(user: Reader, watchlist_id: str, identity_id: str, backend: FaceBackendDep) -> IdentityOut:
    identity = face_services.get_identity(backend, watchlist_id, identity_id)
    return IdentityOut.of(identity, face_services.faces_of(backend, identity_id))


def add_images(
    user: Enroler,
    watchlist_id: str,
    identity_id: str,
    backend: FaceBackendDep,
    audit: AuditDep,
    purpose: PurposeForm,
    images: Images,
) -> IdentityOut:
    """More photos of the identity (the checks of enrolment); answers it with every enrolled face."""
    target = f"identity:{identity_id}"
    with face_action(audit, "face.add_image", target, actor=user, purpose=purpose) as done:
        identity, faces = face_enrolment.add_images(
            backend, watchlist_id, identity_id, [upload(f) for f in images]
        )
        done.detail = f"{len(images)} images; now {len(faces)}"
    return IdentityOut.of(identity, faces)


def erase_identity(
    user: Enroler,
    watchlist_id: str,
    identity_id: str,
    purpose: PurposeQuery,
    backend: FaceBackendDep,
    audit: AuditDep,
) -> ErasureOut:
    """Erasure: the identity, its enrolled faces, images and negatives are deleted for good, and the
    running workers drop it from their gallery."""
    erase = partial(face_services.erase_identity, backend, watchlist_id, identity_id)
    return _erased(audit, "face.erase", f"identity:{identity_id}", user, purpose, erase)


def get_face_image(
    user: Reader,
    watchlist_id: str,
    identity_id: str,
    embedding_id: str,
    purpose: PurposeQuery,
    backend: FaceBackendDep,
    audit: AuditDep,
) -> Response:
    """The stored enrolment image (JPEG, normalised); each view is audited with its purpose."""
    target = f"face:{embedding_id}"
    with face_action(audit, "face.image.view", target, actor=user, purpose=purpose) as done:
        content = face_services.get_face_image(backend, watchlist_id, identity_id, embedding_id)
        done.detail = f"identity {identity_id}"
    return Response(
        content,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


def _erased(
    audit: RequestAudit, action: str, target: str, user: Principal, purpose: str, erase: Callable[[], Erasure]
) -> ErasureOut:
    """Runs the erasure, audited with what it removed."""
    with face_action(audit, action, target, actor=user, purpose=purpose) as done:
        erasure = erase()
        faces, negatives = erasure.embeddings, erasure.negatives
        done.detail = f"{erasure.identities} identities, {faces} faces, {negatives} negatives erased"
    return ErasureOut.of(erasure)


def build_router(config: ApiConfig) -> APIRouter:
    router = APIRouter(
        prefix="/v1/watchlists", tags=["watchlists"], route_class=BiometricRoute, responses=ERRORS
    )
    uploads = upload_limits(config, config.face_images_per_request) | {"responses": UPLOAD_ERRORS}
    one, identities = "/{watchlist_id}", "/{watchlist_id}/identities"
    identity = identities + "/{identity_id}"
    add = router.add_api_route
    add("", create_watchlist, methods=["POST"], status_code=201, openapi_extra=audited("watchlist.create"))
    add("", list_watchlists, methods=["GET"])
    add(one, get_watchlist, methods=["GET"])
    add(one, update_watchlist, methods=["PATCH"], openapi_extra=audited("watchlist.update"))
    add(one, delete_watchlist, methods=["DELETE"], openapi_extra=audited("watchlist.delete"))
    add(
        identities,
        enrol_identity,
        methods=["POST"],
        status_code=201,
        openapi_extra=audited("face.enrol"),
        **uploads,
    )
    add(identities, list_identities, methods=["GET"])
    add(identity, get_identity, methods=["GET"])
    add(identity, erase_identity, methods=["DELETE"], openapi_extra=audited("face.erase"))
    add(
        identity + "/images",
        add_images,
        methods=["POST"],
        status_code=201,
        openapi_extra=audited("face.add_image"),
        **uploads,
    )
    add(
        identity + "/faces/{embedding_id}/image",
        get_face_image,
        methods=["GET"],
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}, "description": "the stored JPEG"}},
        openapi_extra=audited("face.image.view"),
    )
    return router
