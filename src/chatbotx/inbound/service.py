"""Inbound helpers: status order, event payloads, attachment download/storage, failures and acknowledgements.

The batch job that uses them is chatbotx.inbound.batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import io
import logging
import mimetypes
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.channels.base import (
    BLOCKED_BY_USER,
    INVALID_RECIPIENT,
    Attachment,
    ChannelAdapter,
    ChannelContext,
    ContactProfile,
    InboundMessage,
    InboundStatus,
)
from chatbotx.files import service as files
from chatbotx.inbound.schemas import ConversationEvent
from chatbotx.kit.db import commit, get_database
from chatbotx.kit.errors import InvalidData
from chatbotx.kit.normalize import normalize_email, normalize_phone
from chatbotx.messages.schemas import Message as MessageOut
from chatbotx.models import InboundEvent, Inbox
from chatbotx.settings import get_settings

log = logging.getLogger("chatbotx.inbound")

STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}
UNREACHABLE_CODES = (BLOCKED_BY_USER, INVALID_RECIPIENT)
REOPENED_FROM = ("resolved", "snoozed")
MAX_ATTEMPTS = 10
# A receipt for a message we do not know yet (its send is still committing) is retried for this long.
UNKNOWN_MESSAGE_PATIENCE = dt.timedelta(hours=1)


def next_status(current: str, incoming: str) -> str | None:
    """The status a receipt moves a message to, or None: statuses only move forward, failed is final."""
    if current == "failed":
        return None
    if incoming == "failed":
        return "failed" if current in ("queued", "sent") else None
    if STATUS_RANK.get(incoming, -1) > STATUS_RANK.get(current, -1):
        return incoming
    return None


@dataclasses.dataclass(slots=True)
class Downloaded:
    attachment: Attachment
    data: bytes | None
    mime_type: str | None
    error: str | None = None


@dataclasses.dataclass(slots=True)
class Channel:
    """What handling an inbox's events needs, loaded once per run."""

    inbox: Inbox
    adapter: ChannelAdapter | None
    ctx: ChannelContext | None


def payload(model: Any) -> dict[str, Any]:
    result: dict[str, Any] = to_jsonable_python(model.model_dump(by_alias=True))
    return result


def conversation_payload(conversation: dict[str, Any], previous_status: str | None = None) -> dict[str, Any]:
    """`conversation`: the row as a dict of column values."""
    return payload(ConversationEvent.model_validate({**conversation, "previous_status": previous_status}))


def message_payload(message: dict[str, Any]) -> dict[str, Any]:
    """`message`: the row as a dict of column values."""
    return payload(MessageOut.model_validate(message))


# --- contacts --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # a batch sees the same senders again and again; parsing is slow
def phone_of(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return normalize_phone(raw if raw.startswith("+") else f"+{raw}")
    except InvalidData:
        return None


def email_of(raw: str | None) -> str | None:
    """The address as contacts store it (normalized), or None when it is not a valid address."""
    if not raw:
        return None
    try:
        return normalize_email(raw)
    except InvalidData:
        return None


PROFILE_LIMITS = {
    "first_name": 200,
    "last_name": 200,
    "locale": 200,
    "avatar": 2000,
    "phone_number": 200,
    "email": 320,
}


def fill_profile(
    contact: dict[str, Any], profile: ContactProfile, phone: str | None, email: str | None = None
) -> dict[str, Any]:
    """Fill what the contact (a dict of column values) lacks from the channel's profile, never overwriting
    what the workspace set; the columns filled."""
    filled: dict[str, Any] = {}
    for attr, value in (
        ("first_name", profile.first_name),
        ("last_name", profile.last_name),
        ("locale", profile.locale),
        ("avatar", profile.avatar),
        ("phone_number", phone),
        ("email", email),
    ):
        if value and contact[attr] is None:
            contact[attr] = filled[attr] = value[: PROFILE_LIMITS[attr]]
    if filled and contact["full_name"] is None:
        full = " ".join(p for p in (contact["first_name"], contact["last_name"]) if p)
        if full:
            contact["full_name"] = filled["full_name"] = full[:401]
    return filled


# --- attachments -----------------------------------------------------------------------------------------


async def download_all(channel: Channel, attachments: list[Attachment]) -> list[Downloaded]:
    """Fetch each attachment from the provider (outside any transaction); a failure is kept as an error."""
    result = []
    for attachment in attachments:
        if channel.adapter is None or channel.ctx is None:
            result.append(Downloaded(attachment, None, None, "the channel has no adapter"))
            continue
        try:
            data, mime = await channel.adapter.download(channel.ctx, attachment)
        except Exception as exc:  # a lost attachment must not lose the message
            log.warning("inbound attachment download failed: %s", exc)
            result.append(Downloaded(attachment, None, None, str(exc)[:500] or type(exc).__name__))
            continue
        result.append(Downloaded(attachment, data, mime or attachment.mime_type))
    return result


def _filename(attachment: Attachment, mime: str | None) -> str:
    if attachment.filename:
        return attachment.filename
    extension = mimetypes.guess_extension(mime or "") or ""
    return f"{attachment.kind}{extension}"


async def store_attachments(
    session: AsyncSession, workspace_id: int, downloads: list[Downloaded]
) -> list[dict[str, Any]]:
    settings = get_settings()
    base = settings.public_url.rstrip("/")
    out: list[dict[str, Any]] = []
    for item in downloads:
        a = item.attachment
        entry: dict[str, Any] = {"type": a.kind}
        if a.caption:
            entry["caption"] = a.caption
        if a.provider_file_id:
            entry["providerFileId"] = a.provider_file_id
        if item.data is None:
            entry["error"] = item.error
            out.append(entry)
            continue
        try:
            stored = await files.store(
                session,
                workspace_id,
                io.BytesIO(item.data),
                _filename(a, item.mime_type),
                item.mime_type,
                settings.max_upload_bytes,
            )
        except Exception as exc:  # too large: keep the message, say why the file is missing
            entry["error"] = getattr(exc, "message", None) or str(exc)[:500]
            out.append(entry)
            continue
        entry.update(
            fileId=str(stored.id),
            url=f"{base}/api/v1/files/{stored.id}/content",
            name=stored.filename,
            contentType=stored.content_type,
            size=stored.size,
        )
        out.append(entry)
    return out


# --- bookkeeping -------------------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class PendingRow:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    received_at: dt.datetime


async def note_failure(row: PendingRow, error: str, *, final: bool = False) -> None:
    attempts = row.attempts + 1
    status = "failed" if final or attempts >= MAX_ATTEMPTS else "pending"
    async with get_database().sessionmaker() as session:
        await session.execute(
            update(InboundEvent)
            .where(InboundEvent.id == row.id, InboundEvent.status == "pending")
            .values(attempts=attempts, error=error[:2000], status=status)
        )
        await commit(session)


async def acknowledge(channel: Channel, event: InboundMessage | InboundStatus) -> None:
    """Tell the provider the event was handled where the channel needs it (Telegram answers callback
    queries, or the user's button keeps spinning); optional for adapters, and never fatal."""
    ack = getattr(channel.adapter, "acknowledge", None)
    if ack is None or channel.ctx is None:
        return
    try:
        await ack(channel.ctx, event)
    except Exception as exc:
        log.info("inbound acknowledge failed: %s", exc)
