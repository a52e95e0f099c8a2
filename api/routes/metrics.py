"""`GET /metrics`: the app's Prometheus registry in the text exposition format (see `api.metrics`)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ForbiddenError, require
from api.metrics import ApiMetrics
from api.principal import Permission, Principal

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


def get_metrics(request: Request) -> ApiMetrics:
    metrics = getattr(request.app.state, "metrics", None)
    if not isinstance(metrics, ApiMetrics):
        raise RuntimeError("app.state.metrics is not set: build the app with api.app.create_app")
    return metrics


MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(
    api_metrics: MetricsDep, user: Annotated[Principal, require(Permission.METRICS_READ)]
) -> Response:
    """Cameras, stored events by type and API latency, for Prometheus (sync: the store is queried).

    Scrape with an API key (`Authorization: Bearer ak_...`, Prometheus' `authorization` setting). The
    metrics name every camera, so a key limited to some cameras is refused.
    """
    if not user.scope.unrestricted:
        raise ForbiddenError(
            "/metrics covers every camera: scrape it with a key that is not limited in scope"
        )
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE_LATEST)
