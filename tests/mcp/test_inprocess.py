"""The MCP server against the app in-process (official client, in-memory transport), both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatbotx.kit import db
from chatbotx.mcp.api import ApiClient
from chatbotx.mcp.http import INTERNAL_API_URL
from chatbotx.mcp.server import Catalog, build_server
from mcp import Client
from tests.conftest import Tenant
from tests.mcp.helpers import (
    add_inbox,
    call_error,
    call_ok,
    check_tool_list,
    is_stream,
    missing_seed_tools,
    run_chain,
    text_of,
    tool_names,
)


@pytest.fixture
async def catalog(app: Any) -> AsyncIterator[Catalog]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    api = ApiClient(INTERNAL_API_URL, transport=transport)
    yield Catalog(api)
    await api.aclose()


def connect(catalog: Catalog, token: str | None) -> Client:
    # "legacy": the initialize handshake, as Claude and other MCP clients do it today.
    return Client(build_server(catalog, lambda _ctx: token), mode="legacy")


async def test_every_operation_is_a_tool(catalog: Catalog, tenant: Tenant) -> None:
    spec = (await tenant.client.get("/api/public-spec.json")).json()
    operation_ids = {
        operation["operationId"]
        for item in spec["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation and not is_stream(operation)
    }
    async with connect(catalog, tenant.token) as client:
        check_tool_list((await client.list_tools()).tools, operation_ids)


async def test_the_seed_tools_are_all_there(catalog: Catalog, tenant: Tenant) -> None:
    async with connect(catalog, tenant.token) as client:
        assert missing_seed_tools(await tool_names(client)) == set()


async def test_chain_end_to_end(catalog: Catalog, tenant: Tenant) -> None:
    async with db.get_database().sessionmaker() as session:
        inbox_id = await add_inbox(session, tenant.workspace_id)
    async with connect(catalog, tenant.token) as client:
        await run_chain(client, tenant.client, inbox_id)


async def test_api_errors_are_tool_errors(catalog: Catalog, tenant: Tenant) -> None:
    async with connect(catalog, tenant.token) as client:
        missing = await call_error(client, "get_tag", idOrName="no-such-tag")
        assert text_of(missing).startswith("NOT_FOUND (404): ")
        assert missing.structured_content["code"] == "NOT_FOUND"

        await call_ok(client, "create_tag", name="dup")
        duplicate = await call_error(client, "create_tag", name="dup")
        assert duplicate.structured_content["code"] == "DUPLICATE_NAME"
        assert duplicate.structured_content["status"] == 409

        invalid = await call_error(client, "create_tag", name="")
        assert text_of(invalid).startswith("INVALID_REQUEST_DATA (422): name")

        unknown_arg = await call_error(client, "list_tags", colour="red")
        assert "Unknown argument(s) colour" in text_of(unknown_arg)
        no_arg = await call_error(client, "get_tag")
        assert "Missing required argument(s): idOrName" in text_of(no_arg)
        no_tool = await call_error(client, "launch_rocket")
        assert no_tool.structured_content["code"] == "UNKNOWN_TOOL"


async def test_upload_a_file_as_text(catalog: Catalog, tenant: Tenant) -> None:
    csv = "email,firstName\nada@example.com,Ada\n"
    async with connect(catalog, tenant.token) as client:
        stored = await call_ok(client, "upload_file", file=csv, filename="people.csv")
    assert (stored["filename"], stored["contentType"], stored["size"]) == ("people.csv", "text/csv", len(csv))
    downloaded = await tenant.client.get(f"/api/v1/files/{stored['id']}/content")
    assert downloaded.text == csv


async def test_bad_or_missing_token_is_a_clear_error(catalog: Catalog, app: Any) -> None:
    async with connect(catalog, "cbx_not-a-real-token") as client:
        assert "list_tags" in await tool_names(client)  # the spec is public
        result = await call_error(client, "list_tags")
        assert text_of(result).startswith("UNAUTHORIZED (401): Invalid or revoked API token.")
        assert "CHATBOTX_API_KEY" in text_of(result)
    async with connect(catalog, None) as client:
        result = await call_error(client, "list_tags")
        assert text_of(result).startswith("UNAUTHORIZED (401): No workspace token.")


async def test_two_workspaces_see_only_their_own(
    catalog: Catalog, tenant: Tenant, other_tenant: Tenant
) -> None:
    # Interleaved on two open sessions; the concurrent case runs over real HTTP in test_transports.py
    # (the in-process test harness shares one lifespan-state dict between concurrent requests).
    async with connect(catalog, tenant.token) as one, connect(catalog, other_tenant.token) as two:
        await call_ok(one, "create_tag", name="only-in-one")
        await call_ok(two, "create_tag", name="only-in-two")
        tags_one = await call_ok(one, "list_tags")
        tags_two = await call_ok(two, "list_tags")
        assert [t["name"] for t in tags_one] == ["only-in-one"]
        assert [t["name"] for t in tags_two] == ["only-in-two"]
        hidden = await call_error(one, "get_tag", idOrName=tags_two[0]["id"])
        assert hidden.structured_content["code"] == "NOT_FOUND"


def tiny_api() -> tuple[FastAPI, Callable[[], None]]:
    app = FastAPI(openapi_url="/api/public-spec.json")

    @app.get("/api/v1/things", operation_id="listThings")
    async def list_things() -> list[str]:
        return ["a"]

    def add_endpoint() -> None:
        @app.get("/api/v1/widgets", operation_id="listWidgets")
        async def list_widgets() -> list[str]:
            return ["w"]

        app.openapi_schema = None

    return app, add_endpoint


async def test_a_new_endpoint_becomes_a_tool_on_refresh() -> None:
    app, add_endpoint = tiny_api()
    api = ApiClient("http://tiny/api", transport=httpx.ASGITransport(app=app))
    catalog = Catalog(api, refresh_seconds=0)  # refresh on every listing
    try:
        async with connect(catalog, "any-token") as client:
            assert await tool_names(client) == {"list_things"}
            add_endpoint()
            assert await tool_names(client) == {"list_things", "list_widgets"}
            assert await call_ok(client, "list_widgets") == ["w"]
    finally:
        await api.aclose()


async def test_unknown_tool_triggers_a_refresh_before_failing() -> None:
    app, add_endpoint = tiny_api()
    api = ApiClient("http://tiny/api", transport=httpx.ASGITransport(app=app))
    catalog = Catalog(api)  # the normal 5-minute refresh
    try:
        async with connect(catalog, "any-token") as client:
            assert await tool_names(client) == {"list_things"}
            add_endpoint()
            assert await call_ok(client, "list_widgets") == ["w"]
    finally:
        await api.aclose()
