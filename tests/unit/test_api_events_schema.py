"""The OpenAPI document of the history routes says what they accept: every request it allows (since and
since_ms together, an empty window, any cursor matching its pattern, limits up to the configured
maxima) is answered without a 4xx for bad input, and every answer conforms to the document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, positive_data_acceptance
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from api.app import create_app
from api.config import ApiConfig
from tests.unit.api_fakes import T0_MS, FakeAuthenticator, FakeEventStore, bearer, make_event

CHECKS = [not_a_server_error, positive_data_acceptance, status_code_conformance, response_schema_conformance]
OPERATIONS = [
    "GET /v1/events",
    "GET /v1/events/aggregates",
    "GET /v1/events/export",
    "GET /v1/events/{event_id}",
    "GET /v1/events/{event_id}/snapshot",
]


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    events = [make_event(ts_ms=T0_MS + i * 60_000, camera_id=f"cam-{i % 3}", track_id=i) for i in range(30)]
    config = ApiConfig(page_limit_default=10, page_limit_max=40, offset_max=60, export_page_rows=7)
    app = create_app(
        FakeEventStore(events),
        Path(tmp_path_factory.mktemp("data")),
        authenticator=FakeAuthenticator(),
        config=config,
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("label", OPERATIONS)
def test_what_the_schema_allows_is_accepted(schema: Any, label: str) -> None:
    method, path = label.split(" ")
    operation = schema[path][method]
    calls: list[int] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def fuzz(case: Any) -> None:
        response = case.call_and_validate(headers=bearer("admin"), checks=CHECKS)
        calls.append(response.status_code)

    fuzz()
    assert len(calls) >= 10
