"""One outgoing HTTP client per process (connection pooling for provider APIs), closed on shutdown."""

from __future__ import annotations

import httpx

_client: httpx.AsyncClient | None = None


def http_client() -> httpx.AsyncClient:
    global _client
    if _client is None or _client.is_closed:
        _client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=10.0),
            # Every connection may stay open: with more sends in flight than kept-alive connections, each
            # answer beyond them closed its connection and the next send opened (TLS) another.
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
            headers={"User-Agent": "ChatbotX"},
        )
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
