"""Inboxes (the "channels" API): config with its secrets split off and encrypted; scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.inboxes import schemas, secrets
from chatbotx.kit.errors import NotFound
from chatbotx.kit.pagination import PageParams, paginate
from chatbotx.models import Inbox
from chatbotx.settings import get_settings


def webhook_url(inbox: Inbox) -> str:
    return f"{get_settings().public_url.rstrip('/')}/webhooks/{inbox.channel}/{inbox.id}"


def channel_out(inbox: Inbox) -> schemas.Channel:
    return schemas.Channel(
        id=inbox.id,
        created_at=inbox.created_at,
        updated_at=inbox.updated_at,
        name=inbox.name,
        channel=inbox.channel,
        source_id=inbox.source_id,
        workspace_id=inbox.workspace_id,
        status=inbox.status,
        config=inbox.config or {},
        secret_keys=secrets.secret_keys(inbox.credentials),
        webhook_url=webhook_url(inbox),
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
    inbox = Inbox(
        workspace_id=workspace_id,
        name=data.name,
        channel=data.channel,
        source_id=data.source_id,
        config=public,
        credentials=secrets.seal(secret_values),
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
    if data.status is not None:
        inbox.status = data.status
    if data.config:
        touches_secrets = any(secrets.is_secret_key(k) for k in data.config)
        current = credentials_of(inbox) if touches_secrets else {}
        public, secret_values = secrets.apply_config(inbox.config or {}, current, data.config)
        inbox.config = public  # a new dict: in-place changes to a JSON column are not tracked
        if touches_secrets:
            inbox.credentials = secrets.seal(secret_values)
    await session.flush()
    return inbox


async def delete(session: AsyncSession, workspace_id: int, inbox_id: int | None) -> None:
    """Delete the channel; its contacts' channel identities go with it, conversations stay (without inbox)."""
    inbox = await get(session, workspace_id, inbox_id)
    await session.delete(inbox)
    await session.flush()
