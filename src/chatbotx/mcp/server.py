"""The MCP server (the official SDK's low-level Server): lists the tools of the live spec and runs them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

import chatbotx
from chatbotx.mcp.api import ApiClient, SpecUnavailable, error_result
from chatbotx.mcp.tools import ToolSpec, build_tools

log = logging.getLogger("chatbotx.mcp")

REFRESH_SECONDS = 300.0
RETRY_SECONDS = 30.0  # after a failed refresh, while the previous tools keep serving
UNKNOWN_TOOL_REFRESH_SECONDS = 10.0

INSTRUCTIONS = (
    "Tools for one ChatbotX workspace (contacts, tags, fields, messages, flows, broadcasts, ...). "
    "Contacts are addressed by an identifier: id:<id>, email:<address> or phone:<+E.164>. "
    "Tools that take ids (tagIds, customFieldId, flowId) need real ids: "
    "look them up with the list_*/get_* tools first."
)

TokenOf = Callable[[ServerRequestContext[Any, Any]], str | None]


class Catalog:
    """The tools of the live OpenAPI document: fetched on first use, refreshed after `refresh_seconds`."""

    def __init__(self, api: ApiClient, refresh_seconds: float = REFRESH_SECONDS):
        self.api = api
        self.refresh_seconds = refresh_seconds
        self._tools: dict[str, ToolSpec] | None = None
        self._next_refresh = 0.0
        self._last_forced = 0.0
        self._lock = anyio.Lock()

    async def tools(self) -> dict[str, ToolSpec]:
        if self._tools is None or time.monotonic() >= self._next_refresh:
            await self.refresh()
        assert self._tools is not None
        return self._tools

    async def refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            now = time.monotonic()
            if not force and self._tools is not None and now < self._next_refresh:
                return  # another caller refreshed while we waited
            try:
                tools = build_tools(await self.api.fetch_spec())
            except SpecUnavailable as exc:
                if self._tools is None:
                    raise
                log.warning("MCP: keeping the previous %d tools: %s", len(self._tools), exc)
                self._next_refresh = now + RETRY_SECONDS
                return
            if self._tools is not None and set(tools) != set(self._tools):
                log.info("MCP: the API now has %d operations (was %d)", len(tools), len(self._tools))
            self._tools = tools
            self._next_refresh = now + self.refresh_seconds

    async def find(self, name: str) -> ToolSpec | None:
        tools = await self.tools()
        if name not in tools and time.monotonic() - self._last_forced > UNKNOWN_TOOL_REFRESH_SECONDS:
            # A tool the client saw in a newer listing (or a new endpoint): look again before failing.
            self._last_forced = time.monotonic()
            await self.refresh(force=True)
            tools = await self.tools()
        return tools.get(name)


def build_server(catalog: Catalog, token_of: TokenOf) -> Server[Any]:
    """A Server whose tool calls use the token that `token_of` finds for the request."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        try:
            tools = await catalog.tools()
        except SpecUnavailable as exc:
            raise MCPError(code=types.INTERNAL_ERROR, message=str(exc)) from exc
        return types.ListToolsResult(tools=[tool.to_mcp() for tool in tools.values()])

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            tool = await catalog.find(params.name)
        except SpecUnavailable as exc:
            return error_result("API_UNREACHABLE", 502, str(exc))
        if tool is None:
            return error_result("UNKNOWN_TOOL", 404, f"There is no tool named {params.name!r}.")
        return await catalog.api.call_tool(tool, params.arguments or {}, token_of(ctx))

    return Server(
        "chatbotx",
        version=chatbotx.__version__,
        title="ChatbotX",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
