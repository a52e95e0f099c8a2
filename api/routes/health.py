"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: its dependencies answer).

Liveness never queries a dependency: a store outage must make the API not ready (taken out of a load
balancer), not dead (restarted for nothing). Cameras being offline is neither: `GET /v1/cameras`
reports them.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ReadinessDep
from api.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "a dependency (store, bus, ...) does not answer"}},
)
def readyz(readiness: ReadinessDep) -> JSONResponse:
    """Runs the readiness checks (the store always, and what the composition root added, e.g. the bus)."""
    causes = readiness.run()
    checks = {name: "ok" if cause is None else f"error: {cause}" for name, cause in causes.items()}
    ready = all(cause is None for cause in causes.values())
    body = ReadyOut(status="ready" if ready else "unready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
