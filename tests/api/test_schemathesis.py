"""schemathesis over the whole OpenAPI document: no 5xx, documented status codes, responses match schemas.

One test per operation and generation mode (positive and negative data), on SQLite and PostgreSQL, in a
fresh workspace seeded with one of each resource, so path parameters are sometimes real ids. The app runs on
the test's event loop; hypothesis runs in a thread and hands each request to that loop.
Tune with CHATBOTX_SCHEMATHESIS_EXAMPLES (default 10) and CHATBOTX_SCHEMATHESIS_RANDOM=1 (explore new seeds).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import SerializationNotPossible
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api import resources
from tests.api.spec import operations
from tests.conftest import Tenant

MAX_EXAMPLES = int(os.environ.get("CHATBOTX_SCHEMATHESIS_EXAMPLES", "10"))
DERANDOMIZE = os.environ.get("CHATBOTX_SCHEMATHESIS_RANDOM") != "1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]
BASE_URL = "http://testserver"
# Endless text/event-stream responses cannot be read whole; tests/events covers them over real HTTP.
STREAMING = {"streamEvents"}

_schemas: dict[int, Any] = {}


async def _schema_for(app: Any, client: httpx.AsyncClient) -> Any:
    """The document the app serves, loaded once per app."""
    if id(app) not in _schemas:
        served = await client.get("/api/openapi.json")
        assert served.status_code == 200, served.text
        _schemas[id(app)] = schemathesis.openapi.from_dict(served.json())
    return _schemas[id(app)]


def _to_httpx(client: httpx.AsyncClient, case: Any) -> httpx.Request:
    """The request schemathesis would send (its own serialization), built by `client` (adds the token)."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    fields = ("method", "url", "headers", "params", "data", "json", "files", "cookies")
    prepared = requests.Request(**{k: kwargs[k] for k in fields if k in kwargs}).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return client.build_request(
        prepared.method or "GET", prepared.url or BASE_URL, headers=dict(prepared.headers), content=body
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(
    "operation_id", [op.operation_id for op in operations() if op.operation_id not in STREAMING]
)
async def test_operation_conforms_to_its_schema(
    app: Any, tenant: Tenant, operation_id: str, mode: GenerationMode
) -> None:
    operation = (await _schema_for(app, tenant.client)).find_operation_by_id(operation_id)
    seeded = await resources.seed_workspace(int(tenant.workspace_id))
    real_params = resources.path_values(operation.path, seeded)
    strategies = [operation.as_strategy(generation_mode=mode)]
    if real_params is not None:
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=real_params))
    loop = asyncio.get_running_loop()
    client = tenant.client
    checks = NEGATIVE_CHECKS if mode is GenerationMode.NEGATIVE else CHECKS

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
        print_blob=False,
    )
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        try:
            request = _to_httpx(client, case)
        except (SerializationNotPossible, httpx.InvalidURL):
            return  # not sendable as HTTP (e.g. control characters httpx refuses in a URL)
        future = asyncio.run_coroutine_threadsafe(client.send(request), loop)
        response = future.result(timeout=120)
        case.validate_response(response, checks=checks)

    await asyncio.to_thread(run)
