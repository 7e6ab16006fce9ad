"""Turning stored inbound events into contacts, conversations, messages and status changes.

Each event is handled in its own transaction whose first statement claims the InboundEvent row (pending ->
processed): a concurrent worker then finds nothing to claim; a crash leaves the row pending for the sweeper.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import mimetypes
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
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
from chatbotx.contacts.serialize import contacts_out
from chatbotx.files import service as files
from chatbotx.inbound import codec
from chatbotx.inbound.schemas import ConversationEvent
from chatbotx.kit import events
from chatbotx.kit.db import commit, get_database, utcnow
from chatbotx.kit.errors import InvalidData
from chatbotx.kit.normalize import normalize_phone
from chatbotx.messages.schemas import Message as MessageOut
from chatbotx.models import Contact, ContactInbox, Conversation, InboundEvent, Inbox, Message
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


def conversation_payload(conversation: Conversation, previous_status: str | None = None) -> dict[str, Any]:
    return payload(
        ConversationEvent.model_validate(
            {
                **{c.key: getattr(conversation, c.key) for c in Conversation.__table__.c},
                "previous_status": previous_status,
            }
        )
    )


def message_payload(message: Message) -> dict[str, Any]:
    return payload(MessageOut.model_validate(message))


# --- contacts --------------------------------------------------------------------------------------------


def _phone(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return normalize_phone(raw if raw.startswith("+") else f"+{raw}")
    except InvalidData:
        return None


def _fill_profile(contact: Contact, profile: ContactProfile, phone: str | None) -> bool:
    """Fill what the contact lacks from the channel's profile (never overwrite what the workspace set)."""
    changed = False
    for attr, value in (
        ("first_name", profile.first_name),
        ("last_name", profile.last_name),
        ("locale", profile.locale),
        ("avatar", profile.avatar),
        ("phone_number", phone),
    ):
        if value and getattr(contact, attr) is None:
            setattr(contact, attr, value[:200] if attr != "avatar" else value[:2000])
            changed = True
    if changed and contact.full_name is None:
        full = " ".join(p for p in (contact.first_name, contact.last_name) if p)
        contact.full_name = full[:401] or None
    return changed


async def find_or_create_contact(
    session: AsyncSession, inbox: Inbox, message: InboundMessage, now: dt.datetime
) -> tuple[Contact, bool]:
    """The contact behind `message.source_id` on the inbox (linked by phone, or created, when new)."""
    row = (
        await session.execute(
            select(ContactInbox, Contact)
            .join(Contact, Contact.id == ContactInbox.contact_id)
            .where(ContactInbox.inbox_id == inbox.id, ContactInbox.source_id == message.source_id)
        )
    ).first()
    phone = _phone(message.profile.phone_number)
    created = False
    if row is not None:
        contact_inbox, contact = row
        _fill_profile(contact, message.profile, phone)
    else:
        found = None
        if phone:
            found = await session.scalar(
                select(Contact)
                .where(Contact.workspace_id == inbox.workspace_id, Contact.phone_number == phone)
                .order_by(Contact.id)
                .limit(1)
            )
        created = found is None
        contact = found or Contact(
            workspace_id=inbox.workspace_id,
            source=inbox.channel,
            subscribed_at=now,
            broadcast_subscribed_at=now,
            created_at=now,
        )
        if created:
            session.add(contact)
        _fill_profile(contact, message.profile, phone)
        await session.flush()
        contact_inbox = ContactInbox(
            contact_id=contact.id, inbox_id=inbox.id, source_id=message.source_id, created_at=now
        )
        session.add(contact_inbox)
    # The 24-hour window starts at the contact's latest message; one who writes is reachable again.
    sent = min(message.sent_at or now, now)
    if contact_inbox.last_inbound_at is None or contact_inbox.last_inbound_at < sent:
        contact_inbox.last_inbound_at = sent
    contact_inbox.unreachable_at = None
    contact_inbox.unreachable_reason = None
    contact.last_interaction_at = now
    contact.updated_at = now
    return contact, created


# --- conversations ---------------------------------------------------------------------------------------


async def open_conversation(
    session: AsyncSession, contact: Contact, inbox_id: int, now: dt.datetime
) -> tuple[Conversation, bool, str | None]:
    """The contact's latest conversation on the inbox, reopened if resolved or snoozed, else a new one;
    (conversation, created, previous status when it changed)."""
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.contact_id == contact.id, Conversation.inbox_id == inbox_id)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    previous = None
    created = conversation is None
    if conversation is None:
        conversation = Conversation(
            workspace_id=contact.workspace_id,
            contact_id=contact.id,
            inbox_id=inbox_id,
            status="open",
            bot_enabled=True,
            followed=False,
            additional_attributes={},
            created_at=now,
        )
        session.add(conversation)
    elif conversation.status in REOPENED_FROM:
        previous = conversation.status
        conversation.status = "open"
        conversation.snoozed_until = None
    conversation.last_activity_at = now
    conversation.contact_replied_at = now
    conversation.updated_at = now
    return conversation, created, previous


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


# --- handlers --------------------------------------------------------------------------------------------


async def handle_message(
    session: AsyncSession, channel: Channel, message: InboundMessage, downloads: list[Downloaded]
) -> None:
    inbox = channel.inbox
    now = utcnow()
    contact, contact_created = await find_or_create_contact(session, inbox, message, now)
    conversation, conversation_created, previous = await open_conversation(session, contact, inbox.id, now)
    await session.flush()
    attachments = await store_attachments(session, inbox.workspace_id, downloads)
    row = Message(
        workspace_id=inbox.workspace_id,
        conversation_id=conversation.id,
        contact_id=contact.id,
        inbox_id=inbox.id,
        direction="incoming",
        private=False,
        sender_type="contact",
        sender_id=contact.id,
        content_type=message.content_type,
        content=message.text,
        attachments=attachments,
        content_attributes=to_jsonable_python(message.attributes),
        status="delivered",
        provider_message_id=message.provider_message_id,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    ws = inbox.workspace_id
    if contact_created:
        (contact_out,) = await contacts_out(session, [contact])
        await events.publish(session, ws, events.CONTACT_CREATED, to_jsonable_python(contact_out))
    conv = conversation_payload(conversation, previous)
    kind = events.CONVERSATION_CREATED if conversation_created else events.CONVERSATION_UPDATED
    await events.publish(session, ws, kind, conv)
    if previous is not None:
        await events.publish(session, ws, events.CONVERSATION_STATUS_CHANGED, conv)
    await events.publish(session, ws, events.MESSAGE_CREATED, message_payload(row))


async def handle_status(session: AsyncSession, channel: Channel, status: InboundStatus) -> bool:
    """Apply a receipt; False when the message is not known (yet)."""
    inbox = channel.inbox
    message = await session.scalar(
        select(Message).where(
            Message.inbox_id == inbox.id, Message.provider_message_id == status.provider_message_id
        )
    )
    if message is None:
        return False
    new = next_status(message.status, status.status)
    if new is None:
        return True
    at = status.at or utcnow()
    message.status = new
    message.updated_at = utcnow()
    if new in ("sent", "delivered", "read") and message.sent_at is None:
        message.sent_at = at
    if new in ("delivered", "read") and message.delivered_at is None:
        message.delivered_at = at
    if new == "read":
        message.read_at = at
    if new == "failed":
        message.error = status.error_message or status.error_code or "failed"
        message.error_code = status.error_code
        message.next_attempt_at = None
        if status.error_code in UNREACHABLE_CODES:
            await session.execute(
                update(ContactInbox)
                .where(ContactInbox.inbox_id == inbox.id, ContactInbox.contact_id == message.contact_id)
                .values(unreachable_at=at, unreachable_reason=status.error_code)
            )
    await session.flush()
    await events.publish(session, inbox.workspace_id, events.MESSAGE_UPDATED, message_payload(message))
    return True


# --- one event -------------------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class PendingRow:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    received_at: dt.datetime


async def _claim(session: AsyncSession, row_id: int) -> bool:
    result = await session.execute(
        update(InboundEvent)
        .where(InboundEvent.id == row_id, InboundEvent.status == "pending")
        .values(status="processed", processed_at=utcnow(), attempts=InboundEvent.attempts + 1, error=None)
    )
    return bool(getattr(result, "rowcount", 0))


async def _note_failure(row: PendingRow, error: str, *, final: bool = False) -> None:
    attempts = row.attempts + 1
    status = "failed" if final or attempts >= MAX_ATTEMPTS else "pending"
    async with get_database().sessionmaker() as session:
        await session.execute(
            update(InboundEvent)
            .where(InboundEvent.id == row.id, InboundEvent.status == "pending")
            .values(attempts=attempts, error=error[:2000], status=status)
        )
        await commit(session)


async def _message_exists(session: AsyncSession, inbox_id: int, provider_message_id: str) -> bool:
    found = await session.scalar(
        select(Message.id).where(
            Message.inbox_id == inbox_id, Message.provider_message_id == provider_message_id
        )
    )
    return found is not None


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


async def process_row(channel: Channel, row: PendingRow) -> str:
    """Handle one stored event in its own transaction; 'processed', 'skipped' (claimed elsewhere),
    'retry' (left pending) or 'failed'."""
    try:
        event = codec.decode(row.kind, row.payload)
    except Exception as exc:
        await _note_failure(row, f"undecodable event: {exc}", final=True)
        return "failed"
    downloads: list[Downloaded] = []
    if isinstance(event, InboundMessage) and event.attachments:
        downloads = await download_all(channel, event.attachments)
    for second_try in (False, True):
        async with get_database().sessionmaker() as session:
            try:
                if not await _claim(session, row.id):
                    await session.rollback()
                    return "skipped"
                if isinstance(event, InboundStatus):
                    if not await handle_status(session, channel, event):
                        await session.rollback()
                        too_old = utcnow() - row.received_at > UNKNOWN_MESSAGE_PATIENCE
                        await _note_failure(row, "no message with this provider id (yet)", final=too_old)
                        return "failed" if too_old else "retry"
                elif second_try and await _message_exists(
                    session, channel.inbox.id, event.provider_message_id
                ):
                    pass  # stored by a concurrent worker or another path: nothing more to do
                else:
                    await handle_message(session, channel, event, downloads)
                await commit(session)
                await acknowledge(channel, event)
                return "processed"
            except IntegrityError as exc:
                # A concurrent worker created the same contact identity or message: look again once.
                session.info.pop("after_commit", None)
                await session.rollback()
                if second_try:
                    await _note_failure(row, f"conflict: {exc.orig}")
                    return "retry"
            except Exception as exc:
                session.info.pop("after_commit", None)
                await session.rollback()
                log.exception("inbound event %s failed", row.id)
                await _note_failure(row, f"{type(exc).__name__}: {exc}")
                return "retry"
    return "retry"  # pragma: no cover - the loop returns or raises
