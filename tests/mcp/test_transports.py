"""The official MCP client against a live server over stdio (`chatbotx mcp`), SSE (/sse) and streamable
HTTP (/mcp), mounted on the main server and standalone (`chatbotx mcp --transport http`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from mcp import ClientSession, StdioServerParameters, stdio_client
from tests.mcp.conftest import CHATBOTX, LiveServer, child_env, free_port, spawned, wait_until_up
from tests.mcp.helpers import (
    call_error,
    call_ok,
    check_tool_list,
    is_stream,
    missing_seed_tools,
    run_chain,
    text_of,
)

TRANSPORTS = ["stdio", "sse", "http"]
PROTOCOL = "2025-06-18"


@asynccontextmanager
async def stdio_session(live: LiveServer, token: str) -> AsyncIterator[ClientSession]:
    env = child_env(
        live.home, CHATBOTX_API_KEY=token, CHATBOTX_API_URL=live.url, CHATBOTX_MCP_TRANSPORT="stdio"
    )
    params = StdioServerParameters(command=CHATBOTX, args=["mcp"], env=env)
    with (live.home / "mcp-stdio.log").open("a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


@asynccontextmanager
async def sse_session(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    async with sse_client(url, headers=headers) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def http_session(url: str, headers: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def session_for(live: LiveServer, transport: str, token: str, base: str | None = None) -> Any:
    base = base or live.url
    if transport == "stdio":
        return stdio_session(live, token)
    if transport == "sse":
        return sse_session(f"{base}/sse", {"x-workspace-token": token})
    return http_session(f"{base}/mcp", {"Authorization": f"Bearer {token}"})


async def live_operation_ids(url: str) -> set[str]:
    async with httpx.AsyncClient() as client:
        spec = (await client.get(f"{url}/api/public-spec.json")).json()
    return {
        op["operationId"]
        for item in spec["paths"].values()
        for op in item.values()
        if "operationId" in op and not is_stream(op)
    }


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tools_and_a_chain_of_calls(live: LiveServer, transport: str) -> None:
    async with session_for(live, transport, live.one.token) as session:
        tools = (await session.list_tools()).tools
        check_tool_list(tools, await live_operation_ids(live.url))
        assert missing_seed_tools({t.name for t in tools}) == set()
        async with live.api(live.one.token) as api:
            await run_chain(session, api, live.one.inbox_id)


async def test_two_workspaces_at_once_over_http(live: LiveServer) -> None:
    one, two = live.one, live.two
    name_one, name_two = f"one-{uuid.uuid4().hex[:6]}", f"two-{uuid.uuid4().hex[:6]}"
    async with (
        session_for(live, "sse", one.token) as sse_one,
        session_for(live, "http", two.token) as http_two,
        session_for(live, "http", one.token) as http_one,
        session_for(live, "sse", two.token) as sse_two,
    ):
        tag_one, tag_two = await asyncio.gather(
            call_ok(sse_one, "create_tag", name=name_one), call_ok(http_two, "create_tag", name=name_two)
        )
        listings = await asyncio.gather(
            *(call_ok(s, "list_tags") for s in (sse_one, http_one, http_two, sse_two) for _ in range(3))
        )
        for index, tags in enumerate(listings):
            mine, theirs = (one, name_one) if index // 3 in (0, 1) else (two, name_two)
            other_name = name_two if theirs == name_one else name_one
            assert {t["workspaceId"] for t in tags} == {mine.id}
            assert theirs in {t["name"] for t in tags} and other_name not in {t["name"] for t in tags}
        hidden = await asyncio.gather(
            call_error(http_one, "get_tag", idOrName=tag_two["id"]),
            call_error(sse_two, "get_tag", idOrName=tag_one["id"]),
        )
        assert [h.structured_content["code"] for h in hidden] == ["NOT_FOUND", "NOT_FOUND"]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/sse?token={token}", {}),
        ("/sse?workspace_token={token}", {}),
        ("/sse", {"Authorization": "Bearer {token}"}),
        ("/mcp?token={token}", {}),
        ("/mcp", {"x-workspace-token": "{token}"}),
    ],
)
async def test_token_sources(live: LiveServer, path: str, headers: dict[str, str]) -> None:
    token = live.two.token
    url = live.url + path.format(token=token)
    filled = {k: v.format(token=token) for k, v in headers.items()}
    connect = sse_session if path.startswith("/sse") else http_session
    async with connect(url, filled) as session:
        tags = await call_ok(session, "list_tags")
        assert {t["workspaceId"] for t in tags} <= {live.two.id}
        workspace = await call_ok(session, "get_workspace")
        assert workspace["id"] == live.two.id


@pytest.mark.parametrize("path", ["/sse", "/mcp"])
async def test_missing_or_bad_token_is_401_before_any_session(live: LiveServer, path: str) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        method = "GET" if path == "/sse" else "POST"
        missing = await client.request(method, path)
        assert missing.status_code == 401
        assert missing.json()["code"] == "UNAUTHORIZED" and "x-workspace-token" in missing.json()["message"]
        assert missing.headers["www-authenticate"] == "Bearer"
        bad = await client.request(method, path, headers={"x-workspace-token": "cbx_wrong"})
        assert bad.status_code == 401
        assert bad.json()["message"] == "Invalid or revoked workspace token."
        assert "mcp-session-id" not in bad.headers


async def test_bad_token_over_stdio_is_a_clear_tool_error(live: LiveServer) -> None:
    async with stdio_session(live, "cbx_wrong") as session:
        assert "list_contacts" in {t.name for t in (await session.list_tools()).tools}
        result = await call_error(session, "list_contacts")
        assert text_of(result).startswith("UNAUTHORIZED (401): Invalid or revoked API token.")
        assert "CHATBOTX_API_KEY" in text_of(result)


async def test_api_errors_come_back_as_tool_errors(live: LiveServer) -> None:
    async with session_for(live, "http", live.one.token) as session:
        missing = await call_error(session, "get_contact", identifier="email:nobody@example.com")
        assert text_of(missing).startswith("NOT_FOUND (404): ")
        bad = await call_error(session, "get_contact", identifier="phone:not-a-phone")
        assert bad.structured_content["code"] == "INVALID_REQUEST_DATA"


def _rpc(method: str, params: dict[str, Any] | None = None, id: int | None = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    if id is not None:
        message["id"] = id
    return message


async def test_a_streamable_session_belongs_to_its_token(live: LiveServer) -> None:
    accept = {"accept": "application/json, text/event-stream", "mcp-protocol-version": PROTOCOL}
    async with httpx.AsyncClient(base_url=live.url, headers=accept, timeout=60) as client:
        init = _rpc(
            "initialize",
            {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        )
        opened = await client.post("/mcp", json=init, headers={"x-workspace-token": live.one.token})
        assert opened.status_code == 200, opened.text
        session_id = opened.headers["mcp-session-id"]
        as_one = {"x-workspace-token": live.one.token, "mcp-session-id": session_id}
        as_two = {"x-workspace-token": live.two.token, "mcp-session-id": session_id}
        ready = await client.post("/mcp", json=_rpc("notifications/initialized", id=None), headers=as_one)
        assert ready.status_code == 202
        stolen = await client.post("/mcp", json=_rpc("tools/list", {}, id=2), headers=as_two)
        assert stolen.status_code == 404
        own = await client.post("/mcp", json=_rpc("tools/list", {}, id=3), headers=as_one)
        assert own.status_code == 200 and "list_contacts" in own.text


async def test_standalone_http_server(live: LiveServer) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_env(live.home, CHATBOTX_API_URL=live.url)
    args = [CHATBOTX, "mcp", "--transport", "http", "--port", str(port)]
    with spawned(args, env, live.home / "mcp-standalone.log") as process:
        await wait_until_up(base, process, live.home / "mcp-standalone.log")
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.post("/mcp", headers={"x-workspace-token": "cbx_wrong"})).status_code == 401
            assert (await client.get("/sse")).status_code == 401
        name = f"standalone-{uuid.uuid4().hex[:6]}"
        async with session_for(live, "http", live.two.token, base) as session:
            tools = (await session.list_tools()).tools
            check_tool_list(tools, await live_operation_ids(live.url))
            tag = await call_ok(session, "create_tag", name=name)
        async with live.api(live.two.token) as api:
            assert (await api.get(f"/api/v1/tags/{tag['id']}")).json()["name"] == name
        async with session_for(live, "sse", live.one.token, base) as session:
            hidden = await call_error(session, "get_tag", idOrName=tag["id"])
            assert hidden.structured_content["code"] == "NOT_FOUND"
