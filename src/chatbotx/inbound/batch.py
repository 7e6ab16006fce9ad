"""Turning an inbox's stored inbound events into contacts, conversations, messages and status changes, a batch
at a time.

One transaction per batch. Its first statement claims the batch's InboundEvent rows (pending -> processed:
`UPDATE ... WHERE id IN (...) AND status = 'pending' RETURNING id`). A concurrent worker claims none of them
(on PostgreSQL it waits on their row locks, then sees them processed; SQLite serializes writers); a crash
rolls the claim back and the sweeper finds them pending again. Related rows are loaded with IN queries, the
missing ones created in bulk, messages and events inserted in bulk, conversations and contact inboxes updated
set-based. A batch that fails is retried event by event, so one bad event does not hold back the others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Table, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.channels.base import InboundMessage, InboundStatus
from chatbotx.contacts.serialize import contacts_out
from chatbotx.inbound import codec, watermarks
from chatbotx.inbound.service import (
    MAX_ATTEMPTS,
    REOPENED_FROM,
    UNKNOWN_MESSAGE_PATIENCE,
    UNREACHABLE_CODES,
    Channel,
    Downloaded,
    PendingRow,
    acknowledge,
    conversation_payload,
    download_all,
    email_of,
    fill_profile,
    message_payload,
    next_status,
    note_failure,
    phone_of,
    store_attachments,
)
from chatbotx.kit import events
from chatbotx.kit.db import commit, get_database, utcnow
from chatbotx.kit.ids import new_id
from chatbotx.models import Contact, ContactInbox, Conversation, InboundEvent, Message

log = logging.getLogger("chatbotx.inbound")
# An echo arriving while we send to that contact waits this long for the send's provider id to be recorded.
ECHO_PATIENCE = dt.timedelta(minutes=5)

CONTACT: Table = Contact.__table__  # type: ignore[assignment]
CONTACT_INBOX: Table = ContactInbox.__table__  # type: ignore[assignment]
CONVERSATION: Table = Conversation.__table__  # type: ignore[assignment]
MESSAGE: Table = Message.__table__  # type: ignore[assignment]
INBOUND: Table = InboundEvent.__table__  # type: ignore[assignment]

Event = InboundMessage | InboundStatus


@dataclasses.dataclass(slots=True)
class Work:
    """One transaction's state: what to publish, which rows stay pending, what to acknowledge after commit."""

    channel: Channel
    now: dt.datetime
    published: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    requeue: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # inbound_event id/status/error
    handled: list[Event] = dataclasses.field(default_factory=list)

    def publish(self, type: str, payload: dict[str, Any]) -> None:
        self.published.append((type, payload))


# --- claiming --------------------------------------------------------------------------------------------


async def claim(session: AsyncSession, ids: Sequence[int], now: dt.datetime) -> set[int]:
    """Claim the rows of `ids` still pending, in one statement; the ids claimed."""
    result = await session.execute(
        update(INBOUND)
        .where(INBOUND.c.id.in_(ids), INBOUND.c.status == "pending")
        .values(status="processed", processed_at=now, attempts=INBOUND.c.attempts + 1, error=None)
        .returning(INBOUND.c.id)
    )
    return {row[0] for row in result}


def requeue_row(row: PendingRow, error: str, *, final: bool = False) -> dict[str, Any]:
    """The claimed row goes back to pending (or to failed when final or out of attempts) with `error`."""
    status = "failed" if final or row.attempts + 1 >= MAX_ATTEMPTS else "pending"
    return {"b_id": row.id, "b_status": status, "b_error": error[:2000]}


async def _requeue(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(
            update(INBOUND)
            .where(INBOUND.c.id == bindparam("b_id"))
            .values(status=bindparam("b_status"), error=bindparam("b_error")),
            rows,
        )


# --- contacts --------------------------------------------------------------------------------------------


def _new_contact(workspace_id: int, source: str, now: dt.datetime) -> dict[str, Any]:
    row: dict[str, Any] = {c.key: None for c in CONTACT.c}
    row.update(
        id=new_id(),
        workspace_id=workspace_id,
        source=source,
        email_verified=False,
        email_opt_in=True,
        subscribed_at=now,
        broadcast_subscribed_at=now,
        created_at=now,
        updated_at=now,
    )
    return row


@dataclasses.dataclass(slots=True)
class Identities:
    """The batch's senders: contact inbox and contact per source id, with what changed."""

    by_source: dict[str, tuple[dict[str, Any], dict[str, Any]]]
    new_contacts: list[dict[str, Any]]
    new_contact_inboxes: list[dict[str, Any]]
    filled: dict[int, dict[str, Any]]  # contact id -> profile columns filled on an existing contact
    # Source ids that wrote (not only echoes of the business's own messages): their window opens.
    active: set[str] = dataclasses.field(default_factory=set)


async def identities(session: AsyncSession, work: Work, messages: list[InboundMessage]) -> Identities:
    """Each sender's contact inbox and contact: loaded by source id, else linked by phone or email, else
    created (in the batch's order, so two new senders with one phone number share the contact the first one
    made)."""
    inbox = work.channel.inbox
    sources = list(dict.fromkeys(m.source_id for m in messages))
    found = await session.execute(
        # Labels keep the two tables' columns apart (both have id and created_at).
        select(
            *(c.label(f"ci_{c.key}") for c in CONTACT_INBOX.c), *(c.label(f"c_{c.key}") for c in CONTACT.c)
        )
        .select_from(CONTACT_INBOX.join(CONTACT, CONTACT.c.id == CONTACT_INBOX.c.contact_id))
        .where(CONTACT_INBOX.c.inbox_id == inbox.id, CONTACT_INBOX.c.source_id.in_(sources))
    )
    by_source: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    contacts: dict[int, dict[str, Any]] = {}
    for row in found.mappings():
        contact = contacts.setdefault(row["c_id"], {c.key: row[f"c_{c.key}"] for c in CONTACT.c})
        by_source[row["ci_source_id"]] = ({c.key: row[f"ci_{c.key}"] for c in CONTACT_INBOX.c}, contact)
    wanted = sorted(
        {p for m in messages if m.source_id not in by_source if (p := phone_of(m.profile.phone_number))}
    )
    by_phone: dict[str, dict[str, Any]] = {}
    if wanted:
        rows = await session.execute(
            select(CONTACT)
            .where(CONTACT.c.workspace_id == inbox.workspace_id, CONTACT.c.phone_number.in_(wanted))
            .order_by(CONTACT.c.id)
        )
        for row in rows.mappings():
            contact = contacts.setdefault(row["id"], dict(row))
            by_phone.setdefault(row["phone_number"], contact)
    wanted_emails = sorted(
        {e for m in messages if m.source_id not in by_source if (e := email_of(m.profile.email))}
    )
    by_email: dict[str, dict[str, Any]] = {}
    if wanted_emails:
        rows = await session.execute(
            select(CONTACT)
            .where(CONTACT.c.workspace_id == inbox.workspace_id, CONTACT.c.email.in_(wanted_emails))
            .order_by(CONTACT.c.id)
        )
        for row in rows.mappings():
            contact = contacts.setdefault(row["id"], dict(row))
            by_email.setdefault(row["email"], contact)
    result = Identities(by_source, [], [], {})
    created: set[int] = set()
    for message in messages:
        phone = phone_of(message.profile.phone_number)
        email = email_of(message.profile.email)
        if message.source_id not in by_source:
            linked = by_phone.get(phone) if phone else None
            if linked is None and email:
                linked = by_email.get(email)
            if linked is None:
                linked = _new_contact(inbox.workspace_id, inbox.channel, work.now)
                result.new_contacts.append(linked)
                created.add(linked["id"])
            contact_inbox = {
                "id": new_id(),
                "contact_id": linked["id"],
                "inbox_id": inbox.id,
                "source_id": message.source_id,
                "created_at": work.now,
                "last_inbound_at": None,
                "unreachable_at": None,
                "unreachable_reason": None,
            }
            result.new_contact_inboxes.append(contact_inbox)
            by_source[message.source_id] = (contact_inbox, linked)
        contact_inbox, contact = by_source[message.source_id]
        filled = fill_profile(contact, message.profile, phone, email)
        if phone and contact["phone_number"] == phone:
            by_phone.setdefault(phone, contact)
        if email and contact["email"] == email:
            by_email.setdefault(email, contact)
        if filled and contact["id"] not in created:
            result.filled.setdefault(contact["id"], {}).update(filled)
        if message.echo:  # the business wrote: no window, no interaction of the contact's
            continue
        result.active.add(message.source_id)
        # The 24-hour window starts at the contact's latest message; one who writes is reachable again.
        sent = min(message.sent_at or work.now, work.now)
        if contact_inbox["last_inbound_at"] is None or contact_inbox["last_inbound_at"] < sent:
            contact_inbox["last_inbound_at"] = sent
        contact_inbox["unreachable_at"] = contact_inbox["unreachable_reason"] = None
        contact["last_interaction_at"] = contact["updated_at"] = work.now
    return result


_FILLABLE = ("first_name", "last_name", "locale", "avatar", "phone_number", "email", "full_name")


async def save_identities(session: AsyncSession, work: Work, ids: Identities) -> None:
    """Insert the new contacts and contact inboxes; touch the others set-based (profile gaps filled with
    COALESCE, so a value the workspace set meanwhile is kept)."""
    if ids.new_contacts:
        await session.execute(insert(CONTACT), ids.new_contacts)
    if ids.new_contact_inboxes:
        await session.execute(insert(CONTACT_INBOX), ids.new_contact_inboxes)
    new_ci = {ci["id"] for ci in ids.new_contact_inboxes}
    new_contacts = {c["id"] for c in ids.new_contacts}
    active = [ids.by_source[source] for source in ids.active]
    old_ci = [ci for ci, _ in active if ci["id"] not in new_ci]
    if old_ci:
        await session.execute(
            update(CONTACT_INBOX)
            .where(CONTACT_INBOX.c.id == bindparam("b_id"))
            .values(last_inbound_at=bindparam("b_at"), unreachable_at=None, unreachable_reason=None),
            [{"b_id": ci["id"], "b_at": ci["last_inbound_at"]} for ci in old_ci],
        )
    touched = sorted({c["id"] for _, c in active} - new_contacts)
    if touched:
        await session.execute(
            update(CONTACT)
            .where(CONTACT.c.id.in_(touched))
            .values(last_interaction_at=work.now, updated_at=work.now)
        )
    if ids.filled:
        await session.execute(
            update(CONTACT)
            .where(CONTACT.c.id == bindparam("b_id"))
            .values({col: func.coalesce(CONTACT.c[col], bindparam(f"b_{col}")) for col in _FILLABLE}),
            [
                {"b_id": cid, **{f"b_{col}": filled.get(col) for col in _FILLABLE}}
                for cid, filled in ids.filled.items()
            ],
        )


# --- conversations ---------------------------------------------------------------------------------------


def _new_conversation(contact: dict[str, Any], inbox_id: int, now: dt.datetime) -> dict[str, Any]:
    row: dict[str, Any] = {c.key: None for c in CONVERSATION.c}
    row.update(
        id=new_id(),
        workspace_id=contact["workspace_id"],
        contact_id=contact["id"],
        inbox_id=inbox_id,
        status="open",
        bot_enabled=True,
        followed=False,
        additional_attributes={},
        last_activity_at=now,
        created_at=now,
        updated_at=now,
    )
    return row


async def latest_conversations(
    session: AsyncSession, inbox_id: int, contact_ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """Each contact's latest conversation on the inbox (by last activity, then id)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(CONVERSATION)
        .where(CONVERSATION.c.inbox_id == inbox_id, CONVERSATION.c.contact_id.in_(ids))
        .order_by(CONVERSATION.c.contact_id, CONVERSATION.c.last_activity_at.desc(), CONVERSATION.c.id.desc())
    )
    latest: dict[int, dict[str, Any]] = {}
    for row in rows.mappings():
        latest.setdefault(row["contact_id"], dict(row))
    return latest


# --- messages --------------------------------------------------------------------------------------------


async def sources_being_sent_to(session: AsyncSession, inbox_id: int, sources: set[str]) -> set[str]:
    """Of `sources`, the contacts with an outgoing message of ours still queued on the inbox (being sent)."""
    if not sources:
        return set()
    rows = await session.execute(
        select(CONTACT_INBOX.c.source_id)
        .select_from(
            MESSAGE.join(
                CONTACT_INBOX,
                and_(
                    CONTACT_INBOX.c.contact_id == MESSAGE.c.contact_id,
                    CONTACT_INBOX.c.inbox_id == MESSAGE.c.inbox_id,
                ),
            )
        )
        .where(
            MESSAGE.c.inbox_id == inbox_id,
            MESSAGE.c.direction == "outgoing",
            MESSAGE.c.status == "queued",
            CONTACT_INBOX.c.source_id.in_(sorted(sources)),
        )
        .distinct()
    )
    return {row[0] for row in rows}


async def known_message_ids(session: AsyncSession, inbox_id: int, provider_ids: Sequence[str]) -> set[str]:
    if not provider_ids:
        return set()
    rows = await session.execute(
        select(MESSAGE.c.provider_message_id).where(
            MESSAGE.c.inbox_id == inbox_id, MESSAGE.c.provider_message_id.in_(provider_ids)
        )
    )
    return {row[0] for row in rows}


async def threaded_conversations(
    session: AsyncSession, inbox_id: int, messages: Iterable[InboundMessage]
) -> dict[str, dict[str, Any]]:
    """For threaded channels: the conversation of each provider id the messages answer (one query)."""
    refs = sorted({ref for m in messages for ref in m.thread or ()})
    if not refs:
        return {}
    rows = await session.execute(
        select(MESSAGE.c.provider_message_id.label("ref"), CONVERSATION)
        .select_from(MESSAGE.join(CONVERSATION, CONVERSATION.c.id == MESSAGE.c.conversation_id))
        .where(MESSAGE.c.inbox_id == inbox_id, MESSAGE.c.provider_message_id.in_(refs))
    )
    return {row["ref"]: {c.key: row[c.key] for c in CONVERSATION.c} for row in rows.mappings()}


def _thread_of(
    message: InboundMessage, contact_id: int, by_ref: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """The conversation a threaded message answers: the first of its references held by a conversation of
    the same contact (a forwarded mail's references must not pull another contact's conversation in)."""
    for ref in message.thread or ():
        conversation = by_ref.get(ref)
        if conversation is not None and conversation["contact_id"] == contact_id:
            return conversation
    return None


def _message_row(
    work: Work,
    message: InboundMessage,
    contact: dict[str, Any],
    conversation: dict[str, Any],
    attachments: list[dict[str, Any]],
) -> dict[str, Any]:
    inbox = work.channel.inbox
    echo = message.echo
    return {
        "id": new_id(),  # increasing: a conversation's messages keep the provider's order
        "workspace_id": inbox.workspace_id,
        "conversation_id": conversation["id"],
        "contact_id": contact["id"],
        "inbox_id": inbox.id,
        "direction": "outgoing" if echo else "incoming",
        "private": False,
        "sender_type": "agent" if echo else "contact",
        "sender_id": None if echo else contact["id"],
        "content_type": message.content_type,
        "content": message.text,
        "attachments": attachments,
        "content_attributes": to_jsonable_python(
            {**message.attributes, "echo": True} if echo else message.attributes
        ),
        "status": "sent" if echo else "delivered",
        "provider_message_id": message.provider_message_id,
        "error": None,
        "error_code": None,
        "next_attempt_at": None,
        "attempts": 0,
        "leased_until": None,
        "sent_at": (message.sent_at or work.now) if echo else None,
        "delivered_at": None,
        "read_at": None,
        "created_at": work.now,
        "updated_at": work.now,
    }


async def handle_messages(
    session: AsyncSession, work: Work, messages: list[tuple[PendingRow, InboundMessage, list[Downloaded]]]
) -> None:
    """Store each message once per provider id, in the batch's order, with its contact and conversation.

    A message joins its contact's latest conversation on the inbox, reopening it when resolved or snoozed;
    a threaded one (email) the conversation it answers, else a new one. An echo (the business's own message
    sent elsewhere) is stored as outgoing and reopens nothing.
    """
    inbox = work.channel.inbox
    known = await known_message_ids(session, inbox.id, [m.provider_message_id for _, m, _ in messages])
    sending = await sources_being_sent_to(
        session,
        inbox.id,
        {m.source_id for _, m, _ in messages if m.echo and m.provider_message_id not in known},
    )
    fresh: list[tuple[InboundMessage, list[Downloaded]]] = []
    for row, message, downloads in messages:
        # Maybe the echo of our own send whose provider id is not recorded yet: wait for the dispatcher
        # (stored as an echo after the patience, if it was someone else's send after all).
        if (
            message.echo
            and message.source_id in sending
            and message.provider_message_id not in known
            and work.now - row.received_at <= ECHO_PATIENCE
            and row.attempts + 1 < MAX_ATTEMPTS
        ):
            work.requeue.append(requeue_row(row, "an echo waits while we send to this contact"))
            continue
        work.handled.append(message)  # a repeat of a stored message is handled too (acknowledged)
        if message.provider_message_id not in known:
            known.add(message.provider_message_id)
            fresh.append((message, downloads))
    if not fresh:
        return
    ids = await identities(session, work, [m for m, _ in fresh])
    await save_identities(session, work, ids)
    contact_of = {source: contact for source, (_, contact) in ids.by_source.items()}
    latest = await latest_conversations(session, inbox.id, (c["id"] for c in contact_of.values()))
    by_ref = await threaded_conversations(session, inbox.id, (m for m, _ in fresh))
    new_contacts = {c["id"] for c in ids.new_contacts}
    created_conversations: list[dict[str, Any]] = []
    contact_touched: set[int] = set()
    echo_touched: set[int] = set()
    reopened: list[int] = []
    rows: list[dict[str, Any]] = []
    announced: set[int] = set()
    loaded: dict[int, dict[str, Any]] = {}
    for message, downloads in fresh:
        contact = contact_of[message.source_id]
        conversation = (
            latest.get(contact["id"])
            if message.thread is None
            else _thread_of(message, contact["id"], by_ref)
        )
        if conversation is not None:  # one dict per conversation, however it was found
            conversation = loaded.setdefault(conversation["id"], conversation)
        previous = None
        kind = events.CONVERSATION_UPDATED
        if conversation is None:
            conversation = _new_conversation(contact, inbox.id, work.now)
            loaded[conversation["id"]] = conversation
            created_conversations.append(conversation)
            kind = events.CONVERSATION_CREATED
        elif conversation["status"] in REOPENED_FROM and not message.echo:
            previous = conversation["status"]
            conversation["status"] = "open"
            conversation["snoozed_until"] = None
            reopened.append(conversation["id"])
        # The contact's latest conversation is now this one (for the next unthreaded message of the batch);
        # later messages answering this one find it by its provider id.
        latest[contact["id"]] = conversation
        by_ref[message.provider_message_id] = conversation
        conversation["last_activity_at"] = conversation["updated_at"] = work.now
        if message.echo:
            conversation["admin_replied_at"] = work.now
            echo_touched.add(conversation["id"])
        else:
            conversation["contact_replied_at"] = work.now
            contact_touched.add(conversation["id"])
        attachments = await store_attachments(session, inbox.workspace_id, downloads) if downloads else []
        rows.append(_message_row(work, message, contact, conversation, attachments))
        # Events in the order a one-by-one run published them: contact, conversation, message.
        if contact["id"] in new_contacts and contact["id"] not in announced:
            announced.add(contact["id"])
            work.publish(events.CONTACT_CREATED, {"contactId": contact["id"]})  # filled in below
        conv = conversation_payload(conversation, previous)
        work.publish(kind, conv)
        if previous is not None:
            work.publish(events.CONVERSATION_STATUS_CHANGED, conv)
        work.publish(events.MESSAGE_CREATED, message_payload(rows[-1]))
    if created_conversations:
        await session.execute(insert(CONVERSATION), created_conversations)
    created_ids = {c["id"] for c in created_conversations}
    if touched := sorted(contact_touched - created_ids):
        await session.execute(
            update(CONVERSATION)
            .where(CONVERSATION.c.id.in_(touched))
            .values(last_activity_at=work.now, contact_replied_at=work.now, updated_at=work.now)
        )
    if touched := sorted(echo_touched - created_ids):
        await session.execute(
            update(CONVERSATION)
            .where(CONVERSATION.c.id.in_(touched))
            .values(last_activity_at=work.now, admin_replied_at=work.now, updated_at=work.now)
        )
    if reopened:
        await session.execute(
            update(CONVERSATION)
            .where(CONVERSATION.c.id.in_(sorted(set(reopened))))
            .values(status="open", snoozed_until=None)
        )
    await session.execute(insert(MESSAGE), rows)
    if ids.new_contacts:
        await _fill_contact_events(session, work, ids.new_contacts)


async def _fill_contact_events(session: AsyncSession, work: Work, contacts: list[dict[str, Any]]) -> None:
    """Replace the contact.created placeholders with the full contact objects (serialized in one batch)."""
    full = await contacts_out(session, [SimpleNamespace(**c) for c in contacts])
    by_id = {int(c["id"]): to_jsonable_python(c) for c in full}
    for i, (type, payload) in enumerate(work.published):
        if type == events.CONTACT_CREATED and "contactId" in payload and len(payload) == 1:
            work.published[i] = (type, by_id[payload["contactId"]])


# --- statuses --------------------------------------------------------------------------------------------


def apply_status(message: dict[str, Any], status: InboundStatus, now: dt.datetime) -> bool:
    """Move the message (a dict of column values) forward per the receipt; whether it changed."""
    new = next_status(message["status"], status.status)
    if new is None:
        return False
    at = status.at or now
    message["status"] = new
    message["updated_at"] = now
    if new in ("sent", "delivered", "read") and message["sent_at"] is None:
        message["sent_at"] = at
    if new in ("delivered", "read") and message["delivered_at"] is None:
        message["delivered_at"] = at
    if new == "read":
        message["read_at"] = at
    if new == "failed":
        message["error"] = status.error_message or status.error_code or "failed"
        message["error_code"] = status.error_code
        message["next_attempt_at"] = None
    return True


_STATUS_COLUMNS = (
    "status",
    "updated_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "error",
    "error_code",
    "next_attempt_at",
)


async def handle_statuses(
    session: AsyncSession, work: Work, statuses: list[tuple[PendingRow, InboundStatus]]
) -> None:
    """Apply receipts in order (statuses only move forward); one for an unknown message stays pending."""
    inbox = work.channel.inbox
    provider_ids = sorted({s.provider_message_id for _, s in statuses})
    rows = await session.execute(
        select(MESSAGE).where(MESSAGE.c.inbox_id == inbox.id, MESSAGE.c.provider_message_id.in_(provider_ids))
    )
    found = {row["provider_message_id"]: dict(row) for row in rows.mappings()}
    changed: dict[int, dict[str, Any]] = {}
    unreachable: list[dict[str, Any]] = []
    for row, status in statuses:
        message = found.get(status.provider_message_id)
        if message is None:
            too_old = work.now - row.received_at > UNKNOWN_MESSAGE_PATIENCE
            work.requeue.append(requeue_row(row, "no message with this provider id (yet)", final=too_old))
            continue
        work.handled.append(status)
        if not apply_status(message, status, work.now):
            continue
        changed[message["id"]] = message
        if message["status"] == "failed" and status.error_code in UNREACHABLE_CODES:
            unreachable.append(
                {
                    "b_contact": message["contact_id"],
                    "b_at": status.at or work.now,
                    "b_reason": status.error_code,
                }
            )
        work.publish(events.MESSAGE_UPDATED, message_payload(message))
    if changed:
        await session.execute(
            update(MESSAGE)
            .where(MESSAGE.c.id == bindparam("b_id"))
            .values({col: bindparam(f"b_{col}") for col in _STATUS_COLUMNS}),
            [{"b_id": m["id"], **{f"b_{col}": m[col] for col in _STATUS_COLUMNS}} for m in changed.values()],
        )
    if unreachable:
        await session.execute(
            update(CONTACT_INBOX)
            .where(
                and_(
                    CONTACT_INBOX.c.inbox_id == inbox.id, CONTACT_INBOX.c.contact_id == bindparam("b_contact")
                )
            )
            .values(unreachable_at=bindparam("b_at"), unreachable_reason=bindparam("b_reason")),
            unreachable,
        )


# --- one batch -------------------------------------------------------------------------------------------


async def download_for(channel: Channel, rows: Sequence[PendingRow]) -> dict[int, list[Downloaded]]:
    """Attachments of the rows' messages, fetched before the transaction (no provider call holds it)."""
    out: dict[int, list[Downloaded]] = {}
    for row in rows:
        if row.kind != codec.MESSAGE or not row.payload.get("attachments"):
            continue
        try:
            event = codec.decode(row.kind, row.payload)
        except Exception:
            continue  # reported when the batch decodes it
        if isinstance(event, InboundMessage) and event.attachments:
            out[row.id] = await download_all(channel, event.attachments)
    return out


async def _run(
    session: AsyncSession,
    channel: Channel,
    rows: Sequence[PendingRow],
    downloads: dict[int, list[Downloaded]],
) -> Work | None:
    """The batch's transaction up to commit; None when another worker had claimed every row."""
    work = Work(channel, utcnow())
    claimed = await claim(session, [r.id for r in rows], work.now)
    if not claimed:
        return None
    messages: list[tuple[PendingRow, InboundMessage, list[Downloaded]]] = []
    statuses: list[tuple[PendingRow, InboundStatus]] = []
    for row in sorted((r for r in rows if r.id in claimed), key=lambda r: r.id):
        try:
            event = codec.decode(row.kind, row.payload)
        except Exception as exc:
            work.requeue.append(requeue_row(row, f"undecodable event: {exc}", final=True))
            continue
        if isinstance(event, InboundMessage):
            messages.append((row, event, downloads.get(row.id, [])))
        else:
            statuses.append((row, event))
    if messages:
        await handle_messages(session, work, messages)
    # Watermark receipts (Messenger's read, a delivery without ids) become one receipt per message covered.
    statuses = await watermarks.expand(session, channel.inbox.id, statuses)
    if statuses:
        await handle_statuses(session, work, statuses)
    await _requeue(session, work.requeue)
    await events.publish_many(session, channel.inbox.workspace_id, work.published)
    return work


async def process_batch(
    channel: Channel, rows: Sequence[PendingRow], downloads: dict[int, list[Downloaded]] | None = None
) -> int:
    """Handle the pending rows (of one inbox, in id order) in one transaction; how many events were handled.
    On a conflict or an error the batch rolls back and its rows are handled one by one instead."""
    if downloads is None:
        downloads = await download_for(channel, rows)
    for second_try in (False, True):
        async with get_database().sessionmaker() as session:
            try:
                work = await _run(session, channel, rows, downloads)
                if work is None:
                    await session.rollback()
                    return 0
                await commit(session)
                for event in work.handled:  # after commit, as the provider expects
                    await acknowledge(channel, event)
                return len(work.handled)
            except Exception as exc:
                session.info.pop("after_commit", None)
                await session.rollback()
                if len(rows) > 1:
                    log.info(
                        "inbound batch of %d failed (%s); handling its events one by one", len(rows), exc
                    )
                    return sum([await process_batch(channel, [row], downloads) for row in rows])
                if isinstance(exc, IntegrityError) and not second_try:
                    continue  # a concurrent writer created the same contact identity: look again once
                if not isinstance(exc, IntegrityError):
                    log.exception("inbound event %s failed", rows[0].id)
                    await note_failure(rows[0], f"{type(exc).__name__}: {exc}")
                else:
                    await note_failure(rows[0], f"conflict: {exc.orig}")
                return 0
    return 0  # pragma: no cover - the loop returns
