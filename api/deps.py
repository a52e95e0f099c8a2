"""Request dependencies: the store, data folder and limits `create_app` put on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError

from api.config import ApiConfig
from api.schemas import EventListParams
from events.ports import EventStore


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Everything the handlers need, built once by `create_app` (no module globals)."""

    store: EventStore
    data_dir: Path
    config: ApiConfig


def get_context(request: Request) -> ApiContext:
    ctx = request.app.state.ctx
    if not isinstance(ctx, ApiContext):
        raise RuntimeError("app.state.ctx is not set: build the app with api.app.create_app")
    return ctx


ContextDep = Annotated[ApiContext, Depends(get_context)]


def get_store(ctx: ContextDep) -> EventStore:
    return ctx.store


def get_data_dir(ctx: ContextDep) -> Path:
    return ctx.data_dir


def get_config(ctx: ContextDep) -> ApiConfig:
    return ctx.config


StoreDep = Annotated[EventStore, Depends(get_store)]
DataDirDep = Annotated[Path, Depends(get_data_dir)]
ConfigDep = Annotated[ApiConfig, Depends(get_config)]


@dataclass(frozen=True, slots=True)
class ListRequest:
    params: EventListParams
    limit: int


def get_list_request(params: Annotated[EventListParams, Query()], config: ConfigDep) -> ListRequest:
    """Validates paging against the configured limits (a 422 naming the limit, like any bad parameter)."""
    limit = config.page_limit_default if params.limit is None else params.limit
    errors: list[dict[str, object]] = []
    if limit > config.page_limit_max:
        errors.append(_too_big("limit", limit, config.page_limit_max))
    if params.offset > config.offset_max:
        errors.append(_too_big("offset", params.offset, config.offset_max))
    if errors:
        raise RequestValidationError(errors)
    return ListRequest(params=params, limit=limit)


def _too_big(name: str, value: int, maximum: int) -> dict[str, object]:
    return {
        "type": "less_than_equal",
        "loc": ("query", name),
        "msg": f"Input should be less than or equal to {maximum}",
        "input": value,
        "ctx": {"le": maximum},
    }


ListRequestDep = Annotated[ListRequest, Depends(get_list_request)]
