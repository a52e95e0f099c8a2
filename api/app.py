"""The app factory. The composition root builds the store and calls `create_app`; nothing here is global.

Swagger UI (`/docs`) and ReDoc load their JavaScript from a CDN, which this deployment cannot reach,
so both are off by default (pass `docs_url="/docs"` where browsers have internet); the OpenAPI
document itself is always served at `/openapi.json`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import services
from api.config import ApiConfig
from api.deps import ApiContext
from api.routes import alerts, console, events, health
from events.ports import EventStore, StoreError

logger = logging.getLogger(__name__)

#: Service failures and the HTTP status each becomes; the body is always {"detail": "<cause>"}.
_STATUS_BY_ERROR: dict[type[Exception], int] = {
    services.NotFoundError: 404,
    services.SnapshotPathError: 400,
    services.SnapshotIntegrityError: 409,
    services.SnapshotUnreadableError: 500,
}


def create_app(
    store: EventStore,
    data_dir: Path,
    *,
    config: ApiConfig | None = None,
    title: str = "anfang",
    version: str = "0.1.0",
    docs_url: str | None = None,
) -> FastAPI:
    """An API over `store`, serving snapshots from under `data_dir`. The caller owns the store's lifetime."""
    app = FastAPI(
        title=title,
        version=version,
        description="Smart-security video analytics: events, alerts and their evidence snapshots.",
        docs_url=docs_url,
        redoc_url=None,
    )
    app.state.ctx = ApiContext(store=store, data_dir=data_dir, config=config or ApiConfig())
    for error_type in _STATUS_BY_ERROR:
        app.add_exception_handler(error_type, _service_error)
    app.add_exception_handler(StoreError, _store_error)
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(alerts.router)
    app.include_router(console.router)
    return app


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    status = next(code for kind, code in _STATUS_BY_ERROR.items() if isinstance(exc, kind))
    if status >= 500:
        logger.error("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("%s %s: store unavailable: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": f"store unavailable: {exc}"}, status_code=503)
