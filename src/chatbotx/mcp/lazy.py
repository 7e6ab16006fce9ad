"""The MCP endpoints of the main server, loaded on first use: the SDK costs ~27 MB and 0.5 s at import,
which a server nobody reaches over MCP should not pay. Importing this module does not import the SDK."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    from chatbotx.mcp.http import McpHttp

SSE_PATH = "/sse"
MESSAGES_PATH = "/sse/messages/"
STREAMABLE_PATH = "/mcp"


class LazyMcp:
    def __init__(self, app: Any):
        self.app = app
        self._http: McpHttp | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    async def _load(self) -> McpHttp:
        async with self._lock:
            if self._http is None:
                import httpx

                from chatbotx.mcp.api import ApiClient
                from chatbotx.mcp.http import INTERNAL_API_URL, McpHttp, database_token_check
                from chatbotx.mcp.server import Catalog

                transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
                from chatbotx.settings import get_settings

                settings = get_settings()
                http = McpHttp(
                    Catalog(ApiClient(INTERNAL_API_URL, transport=transport)),
                    database_token_check,
                    # A session would not cross worker processes (or API processes without sticky routing).
                    stateless=settings.mcp_stateless or settings.workers > 1,
                )
                ready = asyncio.Event()
                # The session manager's task group must be entered and left by one task: this one.
                self._runner = asyncio.create_task(self._run(http, ready))
                await ready.wait()
                self._http = http
            return self._http

    async def _run(self, http: McpHttp, ready: asyncio.Event) -> None:
        async with http.lifespan():
            ready.set()
            await self._stop.wait()

    async def close(self) -> None:
        self._stop.set()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    async def sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (await self._load()).handle_sse(scope, receive, send)

    async def messages(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (await self._load()).sse.handle_post_message(scope, receive, send)

    async def streamable(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (await self._load()).handle_streamable(scope, receive, send)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(SSE_PATH, endpoint=_Raw(self.sse), methods=["GET"]),
            Mount(MESSAGES_PATH.rstrip("/"), app=self.messages),
            Route(STREAMABLE_PATH, endpoint=_Raw(self.streamable), methods=["GET", "POST", "DELETE"]),
        ]


class _Raw:
    """Starlette treats a class instance as a raw ASGI endpoint (streaming needs the send channel)."""

    def __init__(self, handler: Any):
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)
