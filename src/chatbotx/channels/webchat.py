"""Website webchat adapter: the visitor's browser is the "provider".

Nothing is called to send: an agent's or bot's reply is stored, the dispatcher marks it sent through this
adapter, and the visitor's browser receives it over its realtime stream (chatbotx.webchat.realtime) from the
message event. There is no webhook and no customer-service window. `connect` validates the widget settings and
generates the inbox's secrets: `hmacToken` (the identity-verification key the customer's server signs visitor
ids with, shown to admins as the channel's `hmacToken`) and `identitySecret` (internal: derives a verified
visitor's source id). See docs/channels/webchat.md.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any, ClassVar
from urllib.parse import urlsplit

from chatbotx.channels.base import (
    INVALID_MESSAGE,
    Attachment,
    ChannelContext,
    InboundEvent,
    OutboundMessage,
    ProviderError,
    RatePlan,
    SendResult,
    WebhookRequest,
)
from chatbotx.channels.registry import register
from chatbotx.kit.errors import invalid_field

DEFAULT_COLOR = "#1f93ff"
MAX_GREETING = 500
MAX_URL = 2000
MIN_HMAC_TOKEN = 16
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
# The config keys a webchat inbox has (the two secrets are generated when absent).
PUBLIC_KEYS = ("websiteUrl", "widgetColor", "greeting", "hmacMandatory")
SECRET_KEYS = ("hmacToken", "identitySecret")


def website_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid_field("config.websiteUrl", "is required: the site the widget is embedded in")
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        raise invalid_field("config.websiteUrl", "must be an http(s) URL such as https://www.example.com")
    return url


def widget_settings(public: dict[str, Any]) -> dict[str, Any]:
    """The inbox's public widget settings, validated, with defaults filled."""
    unknown = sorted(set(public) - set(PUBLIC_KEYS))
    if unknown:
        raise invalid_field(
            f"config.{unknown[0]}", f"unknown webchat setting; known: {', '.join(PUBLIC_KEYS)}"
        )
    color = public.get("widgetColor", DEFAULT_COLOR)
    if not isinstance(color, str) or not _COLOR_RE.match(color):
        raise invalid_field("config.widgetColor", "must be a colour as #rrggbb")
    greeting = public.get("greeting", "")
    if not isinstance(greeting, str) or len(greeting) > MAX_GREETING:
        raise invalid_field("config.greeting", f"must be text of at most {MAX_GREETING} characters")
    mandatory = public.get("hmacMandatory", False)
    if not isinstance(mandatory, bool):
        raise invalid_field("config.hmacMandatory", "must be true or false")
    return {
        "websiteUrl": website_url(public.get("websiteUrl")),
        "widgetColor": color.lower(),
        "greeting": greeting.strip(),
        "hmacMandatory": mandatory,
    }


class WebchatAdapter:
    channel: ClassVar[str] = "webchat"
    window: ClassVar[dt.timedelta | None] = None

    def rate_plan(self, config: dict[str, Any]) -> RatePlan:
        return RatePlan(per_second=None)

    async def connect(self, ctx: ChannelContext) -> dict[str, Any]:
        extra: dict[str, Any] = widget_settings(ctx.config)
        token = ctx.credentials.get("hmacToken")
        if token is None:
            extra["hmacToken"] = secrets.token_hex(24)
        elif len(token) < MIN_HMAC_TOKEN:
            raise invalid_field("config.hmacToken", f"must be at least {MIN_HMAC_TOKEN} characters")
        if not ctx.credentials.get("identitySecret"):
            extra["identitySecret"] = secrets.token_urlsafe(32)
        return extra

    async def handshake(self, ctx: ChannelContext, request: WebhookRequest) -> tuple[int, bytes] | None:
        return None

    def verify(self, ctx: ChannelContext, request: WebhookRequest) -> bool:
        return False  # visitors write through the public Client API, never through /webhooks

    def parse(self, ctx: ChannelContext, request: WebhookRequest) -> list[InboundEvent]:
        return []

    async def download(self, ctx: ChannelContext, attachment: Attachment) -> tuple[bytes, str | None]:
        raise ProviderError(INVALID_MESSAGE, "Webchat messages carry no provider media to download.")

    async def send(self, ctx: ChannelContext, message: OutboundMessage) -> SendResult:
        # The message event already reached the visitor's stream when the reply was stored.
        return SendResult(provider_message_id=f"webchat-out:{message.message_id}")


adapter = register(WebchatAdapter())
