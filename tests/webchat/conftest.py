"""Fixtures of the webchat tests: a webchat channel of a fresh workspace, and its public API client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.events.conftest import live_url  # noqa: F401 - a real HTTP server for the SSE tests


@dataclass
class Webchat:
    channel: dict[str, Any]
    identifier: str
    hmac_token: str
    base: str  # /public/api/v1/inboxes/{identifier}

    def contact(self, source_id: str) -> str:
        return f"{self.base}/contacts/{source_id}"

    def conversation(self, source_id: str, conversation_id: str) -> str:
        return f"{self.base}/contacts/{source_id}/conversations/{conversation_id}"


async def make_webchat(api: httpx.AsyncClient, **config: Any) -> Webchat:
    body = {
        "name": "Website",
        "channel": "webchat",
        "config": {
            "websiteUrl": "https://shop.example.com",
            "widgetColor": "#AA3300",
            "greeting": "Hi!",
            **config,
        },
    }
    response = await api.post("/api/v1/channels", json=body)
    assert response.status_code == 201, response.text
    channel = response.json()
    identifier = channel["inboxIdentifier"]
    return Webchat(channel, identifier, channel["hmacToken"], f"/public/api/v1/inboxes/{identifier}")


@pytest.fixture
async def webchat(tenant: Tenant) -> Webchat:
    return await make_webchat(tenant.client)


@pytest.fixture
async def public(app: object) -> AsyncIterator[httpx.AsyncClient]:
    """A visitor's browser: no token, another origin."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
        headers={"Origin": "https://shop.example.com"},
        timeout=30,
    ) as client:
        yield client
