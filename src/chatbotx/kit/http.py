"""One outgoing HTTP client per process (connection pooling for provider APIs), closed on shutdown.

The client is httpx (the API every adapter and test fake speaks); its requests travel over aiohttp's
connection pool (httpx-aiohttp's transport). httpcore's own pool walked every pooled connection on each
request and cost about 2 ms of CPU per provider call with 200 connections; through aiohttp a call costs about
0.4 ms, so one dispatcher process can make 1,000 provider calls a second. Timeouts (connect, read, pool), the
connection limit and keep-alive expiry are httpx's settings, passed on; every failure surfaces as an
`httpx.TransportError` (the adapters map it to PROVIDER_UNAVAILABLE).

No cookies are kept, at either layer: provider APIs authenticate with tokens, and one process-wide jar would
send a cookie that one tenant's provider set along with another tenant's calls to the same host.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# Every connection may stay open: with more sends in flight than kept-alive connections, each answer beyond
# them closed its connection and the next send opened (TLS) another.
LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=200)

_client: httpx.AsyncClient | None = None


class _NoCookies(httpx.Cookies):
    """A jar that never takes a cookie from a response (and so never sends one)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _Transport(AiohttpTransport):
    """httpx-aiohttp's transport, with any aiohttp error its map leaves out (a malformed answer, ...) raised
    as an httpx transport error too, so callers catch one family of errors."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except aiohttp.ClientError as exc:
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}", request=request) from exc


def _session(limits: httpx.Limits) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=limits.max_connections or 0,
        keepalive_timeout=limits.keepalive_expiry or 0,
        ssl=httpx.create_ssl_context(),
    )
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


def new_http_client(**kwargs: Any) -> httpx.AsyncClient:
    """An httpx client over aiohttp's pool, with our timeouts and limits unless `kwargs` says otherwise."""
    limits: httpx.Limits = kwargs.pop("limits", LIMITS)
    # The aiohttp session is made on the first request (it must be made inside the running event loop).
    transport = _Transport(limits=limits, client=lambda: _session(limits))
    kwargs.setdefault("timeout", TIMEOUT)
    client = httpx.AsyncClient(limits=limits, transport=transport, **kwargs)
    client._cookies = _NoCookies()  # httpx has no switch for this; its jar is consulted as `self._cookies`
    return client


def http_client() -> httpx.AsyncClient:
    global _client
    if _client is None or _client.is_closed:
        _client = new_http_client(headers={"User-Agent": "ChatbotX"})
    return _client


def set_http_client(client: httpx.AsyncClient | None) -> None:
    """Replace the client (tests may route provider calls to the fakes this way)."""
    global _client
    _client = client


async def close_http_client() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None
