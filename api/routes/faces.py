"""Face search by image and "not this person" on a match, plus what every biometric route shares:

- `BiometricRoute`: a route whose request is refused for want of a `purpose` (422) appends that refusal
  to the audit trail (outcome "denied") under the route's audit action (`audited(action)`);
- `face_action`: a biometric action is audited with its outcome, a refused or failed one too (outcome
  "failed"; see `api.route_helpers.audit_action`);
- the face backend dependency and the error handlers (`ERROR_HANDLERS`, registered by `create_app`).
Upload routes get a body limit and a file count from the settings, so they are built by `build_router`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from api import route_helpers, services
from api.config import ApiConfig
from api.deps import AuditDep, ContextDep, RequestAudit, client_address, require
from api.face_enrolment import Upload, search
from api.face_review import not_this_person
from api.face_schemas import NegativeOut, NotThisPersonIn, SearchOut
from api.face_services import (
    FaceBackend,
    FaceConflictError,
    FaceInputError,
    FaceNotFoundError,
    FacesDisabledError,
    GalleryPublishError,
)
from api.principal import Permission, Principal
from api.route_helpers import AUDIT_DETAIL_CHARS, ErrorHandler, input_refused, plain_error
from api.schemas import ErrorOut

logger = logging.getLogger(__name__)

AUDIT_ACTION_KEY = "x-audit-action"
PURPOSE_FIELD = "purpose"
#: Room for the multipart framing and the form's text fields around the files.
FORM_OVERHEAD_BYTES = 64 * 1024
FORM_FIELDS_MAX = 10

PurposeForm = Annotated[
    str, Form(min_length=3, max_length=500, description="why this biometric action (audited; required)")
]


def audited(action: str) -> dict[str, Any]:
    """`openapi_extra` of a biometric route: the audit action its purpose refusals are recorded under."""
    return {AUDIT_ACTION_KEY: action}


def _purpose_refused(errors: Any) -> str | None:
    for error in errors if isinstance(errors, list | tuple) else ():
        loc = error.get("loc", ()) if isinstance(error, dict) else ()
        if loc and loc[-1] == PURPOSE_FIELD:
            return str(error.get("msg", "invalid purpose"))
    return None


class BiometricRoute(APIRoute):
    """Audits a request refused for its missing (or too short) purpose as a denial of the route's action."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        action = (self.openapi_extra or {}).get(AUDIT_ACTION_KEY)
        if not isinstance(action, str):
            return handler

        async def audited_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                refused = _purpose_refused(exc.errors())
                if refused is not None:
                    principal = getattr(request.state, "principal", None)
                    RequestAudit(sink=request.app.state.ctx.audit, source=client_address(request)).record(
                        action,
                        request.url.path,
                        actor=principal if isinstance(principal, Principal) else "anonymous",
                        outcome="denied",
                        detail=f"no purpose stated: {refused}",
                    )
                raise

        return audited_handler


#: The API's own refusals of a biometric action (audited as failed).
REFUSALS: tuple[type[Exception], ...] = (
    FaceInputError,
    FaceConflictError,
    FaceNotFoundError,
    FacesDisabledError,
    GalleryPublishError,
    services.NotFoundError,
    services.SnapshotIntegrityError,  # an unmasked original that is not the one the event recorded
    services.SnapshotUnreadableError,
    services.SnapshotPathError,
)
face_action = partial(route_helpers.audit_action, refusals=REFUSALS)


def get_face_backend(ctx: ContextDep) -> FaceBackend:
    return FaceBackend(
        events=ctx.store,
        config=ctx.config,
        store=ctx.face_store,
        gallery=ctx.gallery,
        encoder=ctx.face_encoder,
        searcher=ctx.face_searcher,
    )


FaceBackendDep = Annotated[FaceBackend, Depends(get_face_backend)]


def upload(file: UploadFile) -> Upload:
    return Upload(filename=file.filename or "", stream=file.file)


def upload_limits(config: ApiConfig, files: int) -> dict[str, Any]:
    """`max_body_size` and `form_limits` of a route taking up to `files` images."""
    return {
        "max_body_size": files * config.face_image_max_bytes + FORM_OVERHEAD_BYTES,
        "form_limits": {"max_files": files, "max_fields": FORM_FIELDS_MAX},
    }


#: The error responses of the face routes (for the OpenAPI document).
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "no such watchlist, identity, face or event (in your scope)"},
    409: {"model": ErrorOut, "description": "a duplicate, or an identity erased meanwhile"},
    413: {"model": ErrorOut, "description": "an image over the size or pixel limit"},
    503: {"model": ErrorOut, "description": "faces are not enabled in this process, or the bus is down"},
}
#: ... and those of a route taking images.
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "a malformed form: too many files or fields"},
    **ERRORS,
}


def face_search(
    user: Annotated[Principal, require(Permission.FACES_SEARCH)],
    backend: FaceBackendDep,
    audit: AuditDep,
    image: Annotated[UploadFile, File(description="a photo with exactly one face")],
    purpose: PurposeForm,
    k: Annotated[
        int, Form(ge=1, description="most identities returned (up to the face_search_k_max setting)")
    ] = 5,
) -> SearchOut:
    """The identities nearest to the face in the image (whether each is within its list's threshold)
    and their past `face_match` events in your camera scope. The image is not kept. Audited."""
    with face_action(audit, "face.search", "faces", actor=user, purpose=purpose) as done:
        face, matches = search(backend, upload(image), k=k, scope=user.scope)
        found = ", ".join(f"{m.identity.identity_id}@{m.distance:.3f}" for m in matches)
        done.detail = f"k={k}; {found or 'no identity'}"
    return SearchOut.of(face, matches)


def mark_not_this_person(
    user: Annotated[Principal, require(Permission.ALERTS_ACT)],
    event_id: uuid.UUID,
    body: NotThisPersonIn,
    backend: FaceBackendDep,
    audit: AuditDep,
) -> NegativeOut:
    """The match was wrong: its face becomes a negative of the identity, so that track and faces close
    to it no longer match that identity. Audited with the purpose (and comment)."""
    target = f"event:{event_id}"
    with face_action(audit, "face.not_this_person", target, actor=user, purpose=body.purpose) as done:
        negative = not_this_person(backend, event_id, scope=user.scope, actor=user.actor)
        detail = f"identity {negative.identity_id}; negative {negative.negative_id}"
        done.detail = f"{detail}; {body.comment}"[:AUDIT_DETAIL_CHARS] if body.comment else detail
    return NegativeOut.of(negative)


def build_router(config: ApiConfig) -> APIRouter:
    router = APIRouter(tags=["faces"], route_class=BiometricRoute)
    router.add_api_route(
        "/v1/faces/search",
        face_search,
        methods=["POST"],
        response_model=SearchOut,
        responses=UPLOAD_ERRORS,
        openapi_extra=audited("face.search"),
        **upload_limits(config, 1),
    )
    router.add_api_route(
        "/v1/alerts/{event_id:uuid}/not-this-person",
        mark_not_this_person,
        methods=["POST"],
        status_code=201,
        response_model=NegativeOut,
        responses=ERRORS,
        openapi_extra=audited("face.not_this_person"),
    )
    return router


#: Errors of the face routes and their handlers (`create_app` registers them).
ERROR_HANDLERS: dict[type[Exception], ErrorHandler] = {
    FaceInputError: input_refused,
    FaceNotFoundError: plain_error(404),
    FaceConflictError: plain_error(409),
    FacesDisabledError: plain_error(503),
    GalleryPublishError: plain_error(503),
}
