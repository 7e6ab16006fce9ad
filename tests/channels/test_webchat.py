"""The webchat adapter: widget settings validated with defaults, secrets generated once, nothing to call to
send, no webhook, no window."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chatbotx.channels import registry
from chatbotx.channels.base import ChannelContext, OutboundMessage, WebhookRequest
from chatbotx.channels.webchat import WebchatAdapter, widget_settings
from chatbotx.kit.errors import InvalidData


def context(config: dict[str, Any], credentials: dict[str, Any] | None = None) -> ChannelContext:
    return ChannelContext(1, 1, config, credentials or {}, httpx.AsyncClient(), "http://x")


def test_registered_without_window() -> None:
    adapter = registry.get("webchat")
    assert isinstance(adapter, WebchatAdapter)
    assert adapter.window is None and adapter.rate_plan({}).per_second is None


def test_settings_defaults() -> None:
    assert widget_settings({"websiteUrl": " https://a.example/shop "}) == {
        "websiteUrl": "https://a.example/shop",
        "widgetColor": "#1f93ff",
        "greeting": "",
        "hmacMandatory": False,
    }


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"websiteUrl": "ftp://a.example"},
        {"websiteUrl": "https://"},
        {"websiteUrl": 5},
        {"websiteUrl": "https://a.example", "widgetColor": "#12345"},
        {"websiteUrl": "https://a.example", "greeting": 3},
        {"websiteUrl": "https://a.example", "hmacMandatory": 1},
        {"websiteUrl": "https://a.example", "other": 1},
    ],
)
def test_settings_refused(config: dict[str, Any]) -> None:
    with pytest.raises(InvalidData):
        widget_settings(config)


async def test_connect_generates_secrets_once() -> None:
    adapter = WebchatAdapter()
    extra = await adapter.connect(context({"websiteUrl": "https://a.example"}))
    assert len(extra["hmacToken"]) == 48 and len(extra["identitySecret"]) >= 40
    kept = await adapter.connect(
        context({"websiteUrl": "https://a.example"}, {"hmacToken": "k" * 20, "identitySecret": "s"})
    )
    assert "hmacToken" not in kept and "identitySecret" not in kept
    with pytest.raises(InvalidData):
        await adapter.connect(context({"websiteUrl": "https://a.example"}, {"hmacToken": "short"}))


async def test_send_calls_nothing_and_no_webhook() -> None:
    adapter = WebchatAdapter()
    ctx = context({"websiteUrl": "https://a.example"})
    result = await adapter.send(ctx, OutboundMessage(message_id=42, recipient="visitor", text="hi"))
    assert result.provider_message_id == "webchat-out:42"
    request = WebhookRequest("POST", {}, {}, b"{}")
    assert adapter.verify(ctx, request) is False and adapter.parse(ctx, request) == []
    assert await adapter.handshake(ctx, request) is None
