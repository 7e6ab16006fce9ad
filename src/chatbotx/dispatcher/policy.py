"""What may be sent to whom, decided before any provider call: the 24-hour window and reachability.

Checked at queue time (the API answers 400) and again by the dispatcher just before sending (a message queued
inside the window may only go out after it closed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.channels import registry
from chatbotx.kit.errors import BusinessError, invalid_field
from chatbotx.models import Contact, ContactInbox, Inbox

CHANNEL_NAMES = {
    "whatsapp": "WhatsApp",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "telegram": "Telegram",
}
# Channels whose contact id can be derived from the contact's phone number (business-initiated templates).
PHONE_CHANNELS = frozenset({"whatsapp"})
EMAIL_CHANNELS = frozenset({"smtp"})  # addressed by the contact's email: the business may write first
TAG_CHANNELS = frozenset({"messenger", "instagram"})  # a message tag allows sending outside the window
# Meta's current message tags. HUMAN_AGENT: a person's reply up to 7 days after the contact's last message;
# the others (non-promotional updates) at any time.
HUMAN_AGENT = "HUMAN_AGENT"
MESSAGE_TAGS = (HUMAN_AGENT, "ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE")
HUMAN_AGENT_WINDOW = dt.timedelta(days=7)


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


def is_template(content_type: str | None, attributes: Mapping[str, Any] | None) -> bool:
    return content_type == "template" or bool((attributes or {}).get("template"))


def message_tag(channel: str, attributes: Mapping[str, Any] | None) -> str | None:
    """The message tag a message carries on a tag channel (None elsewhere or without one)."""
    tag = (attributes or {}).get("tag")
    return str(tag) if tag and channel in TAG_CHANNELS else None


def window_exempt(channel: str, content_type: str | None, attributes: Mapping[str, Any] | None) -> bool:
    """Templates and the update tags (not HUMAN_AGENT) may be sent outside the customer-service window."""
    if is_template(content_type, attributes):
        return True
    tag = message_tag(channel, attributes)
    return tag is not None and tag != HUMAN_AGENT


def window_for(
    channel: str,
    window: dt.timedelta | None,
    content_type: str | None,
    attributes: Mapping[str, Any] | None,
) -> dt.timedelta | None:
    """How long after the contact's last message this message may be sent (None: at any time): the channel's
    window, 7 days with the HUMAN_AGENT tag, no limit for templates and the other tags."""
    if window is None or window_exempt(channel, content_type, attributes):
        return None
    if message_tag(channel, attributes) == HUMAN_AGENT:
        return max(window, HUMAN_AGENT_WINDOW)
    return window


def check_tag(channel: str, attributes: Mapping[str, Any] | None) -> None:
    """A message tag is one of Meta's and only on Messenger and Instagram (422 naming `tag`)."""
    tag = (attributes or {}).get("tag")
    if tag is None:
        return
    if channel not in TAG_CHANNELS:
        raise invalid_field(
            "tag", f"message tags are for Messenger and Instagram, not {channel_name(channel)}"
        )
    if tag not in MESSAGE_TAGS:
        raise invalid_field("tag", f"must be one of {', '.join(MESSAGE_TAGS)}")


def window_open(last_inbound_at: dt.datetime | None, window: dt.timedelta | None, now: dt.datetime) -> bool:
    if window is None:
        return True
    return last_inbound_at is not None and now - last_inbound_at < window


def outside_window_message(channel: str, window: dt.timedelta, last_inbound_at: dt.datetime | None) -> str:
    hours = int(window.total_seconds() // 3600)
    name = channel_name(channel)
    if last_inbound_at is None:
        since = f"The contact has never written to this {name} channel"
    else:
        since = f"The contact last wrote at {last_inbound_at.isoformat(timespec='seconds')}"
    if channel in TAG_CHANNELS:
        if window >= HUMAN_AGENT_WINDOW:
            return (
                f"{since}: the HUMAN_AGENT tag allows replies on {name} only within 7 days of the contact's "
                "last message; after that only ACCOUNT_UPDATE, CONFIRMED_EVENT_UPDATE or "
                "POST_PURCHASE_UPDATE (non-promotional updates)."
            )
        return (
            f"{since}: outside the {hours}-hour messaging window {name} only takes a message with a message "
            "tag (tag: HUMAN_AGENT for a person's reply within 7 days, or ACCOUNT_UPDATE, "
            "CONFIRMED_EVENT_UPDATE, POST_PURCHASE_UPDATE)."
        )
    return (
        f"{since}: outside the {hours}-hour customer-service window only a template message can be sent on "
        f"{name}."
    )


def unreachable_message(channel: str, reason: str | None) -> str:
    why = {
        "BLOCKED_BY_USER": "blocked this channel",
        "INVALID_RECIPIENT": "cannot receive messages here (invalid or unsupported number/chat)",
    }.get(reason or "", "cannot be reached")
    return f"The contact {why} on {channel_name(channel)}; nothing can be sent to them there."


def pick_contact_inbox(rows: list[ContactInbox]) -> ContactInbox | None:
    """The contact's identity to send to: the one they wrote from most recently."""
    if not rows:
        return None
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return max(rows, key=lambda r: (r.last_inbound_at or epoch, r.created_at or epoch, r.id))


def phone_source_id(phone: str | None) -> str | None:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return digits or None


def derived_source_id(channel: str, contact: Contact) -> str | None:
    """The contact's id on a channel that addresses people by what the contact record holds: a WhatsApp
    number (its digits) or an email address (lower-cased, as the email channel's senders are)."""
    if channel in PHONE_CHANNELS:
        return phone_source_id(contact.phone_number)
    if channel in EMAIL_CHANNELS:
        return contact.email.strip().lower() if contact.email else None
    return None


async def _derived_identity(
    session: AsyncSession, contact: Contact, inbox_id: int, channel: str
) -> ContactInbox | None:
    """On WhatsApp and email the business may write first (a template; a mail): the contact's identity on the
    inbox from their number or address (unless another contact holds it)."""
    source_id = derived_source_id(channel, contact)
    if source_id is None:
        return None
    taken = await session.scalar(
        select(ContactInbox.id).where(ContactInbox.inbox_id == inbox_id, ContactInbox.source_id == source_id)
    )
    if taken is not None:
        return None
    target = ContactInbox(contact_id=contact.id, inbox_id=inbox_id, source_id=source_id)
    session.add(target)
    return target


async def check_sendable(
    session: AsyncSession,
    contact: Contact,
    inbox_id: int,
    *,
    content_type: str | None,
    content_attributes: Mapping[str, Any] | None,
    now: dt.datetime,
) -> None:
    """Refuse (400) a message the channel would refuse: an unreachable contact, or a free-form message outside
    the channel's customer-service window. No-op for inboxes without a channel adapter."""
    inbox = await session.get(Inbox, inbox_id)
    if inbox is None:
        return
    adapter = registry.get(inbox.channel)
    if adapter is None:
        return
    rows = list(
        (
            await session.execute(
                select(ContactInbox).where(
                    ContactInbox.contact_id == contact.id, ContactInbox.inbox_id == inbox_id
                )
            )
        ).scalars()
    )
    reachable = [r for r in rows if r.unreachable_at is None]
    if rows and not reachable:
        reason = pick_contact_inbox(rows)
        raise BusinessError(
            unreachable_message(inbox.channel, reason.unreachable_reason if reason else None),
            code="CONTACT_UNREACHABLE",
            reason=reason.unreachable_reason if reason else None,
        )
    target = pick_contact_inbox(reachable)
    if target is None and not rows:
        target = await _derived_identity(session, contact, inbox_id, inbox.channel)
    # No identity at all is left to the dispatcher (it fails the message with CONTACT_NOT_ON_CHANNEL).
    check_tag(inbox.channel, content_attributes)
    window = window_for(inbox.channel, adapter.window, content_type, content_attributes)
    if window is None:
        return
    last_inbound_at = target.last_inbound_at if target is not None else None
    if not window_open(last_inbound_at, window, now):
        raise BusinessError(
            outside_window_message(inbox.channel, window, last_inbound_at),
            code="OUTSIDE_WINDOW",
            lastInboundAt=last_inbound_at.isoformat() if last_inbound_at else None,
        )
