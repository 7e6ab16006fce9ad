"""MCP over HTTP: the legacy SSE transport (/sse + /sse/messages/) and streamable HTTP (/mcp), token-checked.

Mounted on the main server through `chatbotx.mcp.lazy.LazyMcp` (tool calls go to the same app in-process,
the SDK loaded on the first MCP request) or served standalone by `standalone_app()` (tool calls go to
CHATBOTX_API_URL).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from mcp.server import ServerRequestContext
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from chatbotx.kit.errors import ApiError, Unauthorized
from chatbotx.kit.security import extract_token
from chatbotx.mcp.api import ApiClient
from chatbotx.mcp.server import Catalog, build_server

log = logging.getLogger("chatbotx.mcp")

SSE_PATH = "/sse"
MESSAGES_PATH = "/sse/messages/"
STREAMABLE_PATH = "/mcp"
INTERNAL_API_URL = "http://chatbotx.internal/api"

TokenCheck = Callable[[str], Awaitable[bool]]


class ApiTokenCheck:
    """Standalone mode: a token is valid unless the API says 401; answers are kept a little while."""

    def __init__(self, api: ApiClient, ttl_valid: float = 60.0, ttl_invalid: float = 5.0):
        self.api = api
        self.ttl_valid = ttl_valid
        self.ttl_invalid = ttl_invalid
        self._cache: dict[str, tuple[float, bool]] = {}

    async def __call__(self, token: str) -> bool:
        key = _token_id(token)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        valid = await self.api.token_is_valid(token)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + (self.ttl_valid if valid else self.ttl_invalid), valid)
        return valid


async def database_token_check(token: str) -> bool:
    """Mounted mode: the same lookup (and cache) as the API's auth middleware."""
    from chatbotx.kit.security import resolve_token

    return await resolve_token(token) is not None


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _request_token(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """Streamable HTTP: the token of the HTTP request that carried this message (checked by McpHttp)."""
    scope = getattr(ctx.request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    return user.access_token.token if isinstance(user, AuthenticatedUser) else None


def _error_response(error: ApiError) -> JSONResponse:
    headers = {"www-authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


class _Endpoint:
    """Starlette treats a class instance as a raw ASGI endpoint (it needs the send channel for streaming)."""

    def __init__(self, handler: Callable[[Scope, Receive, Send], Awaitable[None]]):
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)


class McpHttp:
    """The HTTP endpoints of the MCP server; each connection acts with the token it presented.

    `stateless`: streamable HTTP keeps no session between requests, each one is served on its own. For a
    server of several worker processes on one port: the kernel hands each new connection to any of them, and
    a session lives in the process that opened it (a stateful session's next request would meet a worker that
    does not know it: 404). Tool calls need no session; what stateless mode gives up is the server's own
    stream of notifications (GET /mcp). The SSE transport is a session by nature: one worker only."""

    def __init__(self, catalog: Catalog, check_token: TokenCheck, *, stateless: bool = False):
        self.catalog = catalog
        self.check_token = check_token
        self.sse = SseServerTransport(MESSAGES_PATH)
        self.manager = StreamableHTTPSessionManager(
            app=build_server(catalog, _request_token), stateless=stateless
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route(SSE_PATH, endpoint=_Endpoint(self.handle_sse), methods=["GET"]),
            # The session id in the URL (a random UUID sent on the stream) ties a POST to its connection.
            Mount(MESSAGES_PATH.rstrip("/"), app=self.sse.handle_post_message),
            Route(
                STREAMABLE_PATH, endpoint=_Endpoint(self.handle_streamable), methods=["GET", "POST", "DELETE"]
            ),
        ]

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        try:
            async with self.manager.run():
                yield
        finally:
            await self.catalog.api.aclose()

    async def authenticate(self, scope: Scope, receive: Receive, send: Send) -> str | None:
        """The caller's token, or None after answering 401 (before any MCP session exists)."""
        token = extract_token(dict(scope["headers"]), scope.get("query_string", b""))
        error: ApiError | None = None
        if token is None:
            error = Unauthorized(
                "Missing workspace token: send 'x-workspace-token: <token>', 'Authorization: Bearer <token>' "
                "or '?token=<token>'."
            )
        else:
            try:
                if not await self.check_token(token):
                    error = Unauthorized("Invalid or revoked workspace token.")
            except httpx.HTTPError as exc:
                log.warning("MCP: cannot check a token against the API: %r", exc)
                error = ApiError(
                    "Cannot reach the ChatbotX API to check the token.", code="API_UNREACHABLE", status=502
                )
        if error is not None:
            await _error_response(error)(scope, receive, send)
            return None
        return token

    async def handle_sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = await self.authenticate(scope, receive, send)
        if token is None:
            return
        # One Server per SSE connection, bound to the token of the request that opened it: the message POSTs
        # need not repeat the token (clients that use ?token= only put it on the /sse URL).
        server = build_server(self.catalog, lambda _ctx: token)
        async with self.sse.connect_sse(scope, receive, send) as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    async def handle_streamable(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = await self.authenticate(scope, receive, send)
        if token is None:
            return
        # The SDK ties a session to the identity that created it; each request's own token runs its calls.
        scope["user"] = AuthenticatedUser(AccessToken(token=token, client_id=_token_id(token), scopes=[]))
        await self.manager.handle_request(scope, receive, send)


def standalone_app(api_url: str, *, verify_tls: bool = True) -> Starlette:
    """Only the MCP endpoints, calling the ChatbotX API at `api_url` with each caller's token."""
    api = ApiClient(api_url, verify=verify_tls)
    mcp_http = McpHttp(Catalog(api), ApiTokenCheck(api))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with mcp_http.lifespan():
            yield

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes: list[BaseRoute] = [*mcp_http.routes(), Route("/healthz", healthz)]
    return Starlette(routes=routes, lifespan=lifespan)
