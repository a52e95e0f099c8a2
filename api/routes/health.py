"""Liveness + store reachability."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import services
from api.deps import StoreDep
from api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "the store does not answer"}},
)
def healthz(store: StoreDep) -> JSONResponse:
    error = services.check_store(store)
    if error is None:
        return JSONResponse(HealthOut(status="ok", store="ok").model_dump())
    body = HealthOut(status="unavailable", store=f"error: {error}")
    return JSONResponse(body.model_dump(), status_code=503)
