"""Inboxes (the "channels" API): config with its secrets split off and encrypted; scoped to the workspace.

A channel with an adapter is connected on create and on a config change (the adapter checks the credentials
with the provider and registers our webhook); a refusal is a 400 CHANNEL_CONNECT_FAILED and nothing is stored.
"""

from __future__ import annotations

import contextlib
import logging
import secrets as random
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.channels import registry
from chatbotx.channels.base import ChannelContext, ProviderError
from chatbotx.inboxes import schemas, secrets
from chatbotx.kit.errors import BusinessError, NotFound
from chatbotx.kit.http import http_client
from chatbotx.kit.ids import new_id
from chatbotx.kit.pagination import PageParams, paginate
from chatbotx.models import Inbox
from chatbotx.settings import get_settings

log = logging.getLogger("chatbotx.inboxes")
# Meta channels: the user configures our webhook URL and this verify token in Meta's dashboard.
META_CHANNELS = frozenset({"whatsapp", "messenger", "instagram"})
CHANNEL_NAMES = {
    "whatsapp": "WhatsApp",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "telegram": "Telegram",
}


def _context(
    inbox_id: int, workspace_id: int, public: dict[str, Any], secret: dict[str, str]
) -> ChannelContext:
    return ChannelContext(
        inbox_id=inbox_id,
        workspace_id=workspace_id,
        config=dict(public),
        credentials=dict(secret),
        http=http_client(),
        public_url=get_settings().public_url.rstrip("/"),
    )


async def connect(
    channel: str, inbox_id: int, workspace_id: int, public: dict[str, Any], secret: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check the credentials with the provider and register our webhook; the config to store afterwards.
    Called before anything is written, so a refusal leaves nothing behind."""
    if channel in META_CHANNELS and not public.get("verifyToken") and not secret.get("verifyToken"):
        public = {**public, "verifyToken": random.token_urlsafe(24)}
    adapter = registry.get(channel)
    if adapter is None:
        return public, secret
    name = CHANNEL_NAMES.get(channel, channel)
    try:
        extra = await adapter.connect(_context(inbox_id, workspace_id, public, secret))
    except ProviderError as exc:
        raise BusinessError(
            f"Could not connect the {name} channel: {exc.message}",
            code="CHANNEL_CONNECT_FAILED",
            reason=exc.code,
            providerCode=exc.provider_code,
        ) from exc
    except httpx.HTTPError as exc:
        raise BusinessError(
            f"Could not connect the {name} channel: the provider could not be reached "
            f"({type(exc).__name__}).",
            code="CHANNEL_CONNECT_FAILED",
            reason="PROVIDER_UNAVAILABLE",
        ) from exc
    return secrets.apply_config(public, secret, extra or {})


def webhook_url(inbox: Inbox) -> str:
    return f"{get_settings().public_url.rstrip('/')}/webhooks/{inbox.channel}/{inbox.id}"


def embed_script(inbox: Inbox) -> str:
    """The webchat snippet: one script tag that loads the widget for this inbox."""
    base = get_settings().public_url.rstrip("/")
    return (
        f'<script src="{base}/widget/chatbotx-widget.js" '
        f'data-inbox-identifier="{inbox.public_token}" async></script>'
    )


def channel_out(inbox: Inbox) -> schemas.Channel:
    webchat = inbox.channel == "webchat" and inbox.public_token is not None
    return schemas.Channel(
        id=inbox.id,
        created_at=inbox.created_at,
        updated_at=inbox.updated_at,
        name=inbox.name,
        channel=inbox.channel,
        source_id=inbox.source_id,
        workspace_id=inbox.workspace_id,
        status=inbox.status,
        status_reason=inbox.status_reason,
        config=inbox.config or {},
        secret_keys=secrets.secret_keys(inbox.credentials),
        webhook_url=webhook_url(inbox),
        verify_token=(inbox.config or {}).get("verifyToken") if inbox.channel in META_CHANNELS else None,
        inbox_identifier=inbox.public_token if webchat else None,
        embed_script=embed_script(inbox) if webchat else None,
        hmac_token=credentials_of(inbox).get("hmacToken") if webchat else None,
    )


def credentials_of(inbox: Inbox) -> dict[str, str]:
    """The decrypted secrets of `inbox`, for channel adapters. Never put them in a response."""
    return secrets.unseal(inbox.credentials)


async def list_channels(
    session: AsyncSession, workspace_id: int, params: PageParams, *, channel: str | None = None
) -> tuple[list[schemas.Channel], int]:
    stmt = select(Inbox).where(Inbox.workspace_id == workspace_id)
    if channel:
        stmt = stmt.where(Inbox.channel == channel)
    inboxes, page_count = await paginate(session, stmt.order_by(Inbox.created_at, Inbox.id), params)
    return [channel_out(i) for i in inboxes], page_count


async def get(session: AsyncSession, workspace_id: int, inbox_id: int | None) -> Inbox:
    inbox = None
    if inbox_id is not None:
        inbox = await session.scalar(
            select(Inbox).where(Inbox.id == inbox_id, Inbox.workspace_id == workspace_id)
        )
    if inbox is None:
        raise NotFound("Channel not found.", resource="channel")
    return inbox


async def get_many(session: AsyncSession, workspace_id: int, inbox_ids: Sequence[int]) -> list[Inbox]:
    stmt = select(Inbox).where(Inbox.workspace_id == workspace_id, Inbox.id.in_(set(inbox_ids)))
    return list((await session.execute(stmt)).scalars().all())


async def create(session: AsyncSession, workspace_id: int, data: schemas.ChannelCreate) -> Inbox:
    public, secret_values = secrets.apply_config({}, {}, data.config)
    inbox_id = new_id()  # before connecting: the webhook URL registered with the provider names it
    public, secret_values = await connect(data.channel, inbox_id, workspace_id, public, secret_values)
    inbox = Inbox(
        id=inbox_id,
        workspace_id=workspace_id,
        name=data.name,
        channel=data.channel,
        source_id=data.source_id,
        config=public,
        credentials=secrets.seal(secret_values),
        # Webchat: the unguessable identifier the widget and the public Client API name the inbox by.
        public_token=random.token_urlsafe(24) if data.channel == "webchat" else None,
    )
    session.add(inbox)
    await session.flush()
    return inbox


async def update(
    session: AsyncSession, workspace_id: int, inbox_id: int | None, data: schemas.ChannelUpdate
) -> Inbox:
    inbox = await get(session, workspace_id, inbox_id)
    if data.name is not None:
        inbox.name = data.name
    if "source_id" in data.model_fields_set:
        inbox.source_id = data.source_id
    # A config change, or re-activating a channel that needs attention, connects again (fixing a token).
    reconnect = bool(data.config) or (data.status == "active" and inbox.status == "needs_attention")
    if inbox.channel == "webchat" and (
        inbox.public_token is None or not set(secrets.secret_keys(inbox.credentials)) >= WEBCHAT_SECRETS
    ):  # created before webchat had a public API
        _give_webchat_identity(inbox)
    if reconnect:
        current = credentials_of(inbox)
        public, secret_values = secrets.apply_config(inbox.config or {}, current, data.config or {})
        public, secret_values = await connect(inbox.channel, inbox.id, workspace_id, public, secret_values)
        inbox.config = public  # a new dict: in-place changes to a JSON column are not tracked
        if secret_values != current:
            inbox.credentials = secrets.seal(secret_values)
        if inbox.status == "needs_attention":
            inbox.status, inbox.status_reason = "active", None
    if data.status is not None:
        inbox.status = data.status
        if data.status == "active":
            inbox.status_reason = None
    await session.flush()
    return inbox


WEBCHAT_SECRETS = frozenset({"hmacToken", "identitySecret"})


def _give_webchat_identity(inbox: Inbox) -> None:
    """For a webchat inbox made before webchat had a public API: its public identifier, and the
    identity-verification secrets that connecting would have generated."""
    inbox.public_token = inbox.public_token or random.token_urlsafe(24)
    current = credentials_of(inbox)
    fresh = {"hmacToken": random.token_hex(24), "identitySecret": random.token_urlsafe(32)}
    missing = {key: value for key, value in fresh.items() if not current.get(key)}
    if missing:
        inbox.credentials = secrets.seal({**current, **missing})


async def delete(session: AsyncSession, workspace_id: int, inbox_id: int | None) -> None:
    """Delete the channel; its contacts' channel identities go with it, conversations stay (without inbox)."""
    inbox = await get(session, workspace_id, inbox_id)
    await _disconnect(inbox)
    await session.delete(inbox)
    await session.flush()


async def _disconnect(inbox: Inbox) -> None:
    """Best effort: ask the provider to stop sending us the channel's events (Telegram's deleteWebhook)."""
    adapter = registry.get(inbox.channel)
    disconnect = getattr(adapter, "disconnect", None)
    if disconnect is None or not inbox.credentials:
        return
    with contextlib.suppress(Exception):
        await disconnect(_context(inbox.id, inbox.workspace_id, inbox.config or {}, credentials_of(inbox)))
