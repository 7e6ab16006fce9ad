"""The webchat Client API's logic: the inbox by its public identifier, visitors (anonymous or verified by the
site's HMAC of their user id), their conversations and messages, typing and last-seen.

A visitor is a ContactInbox of the webchat inbox: `source_id` names it in URLs and `pubsub_token` opens its
realtime stream; knowing them is the credential (as in Chatwoot). A visitor only ever reaches conversations of
its own contact on this inbox, and never private notes. Everything here publishes the same workspace events as
the other channels and the agent API, in the caller's transaction; nothing here commits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import uuid
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.contact_fields import service as contact_fields
from chatbotx.contact_fields.schemas import FieldAssignment
from chatbotx.contacts import schemas as contact_schemas
from chatbotx.contacts import service as contacts
from chatbotx.conversations import service as conversations
from chatbotx.conversations.schemas import StatusChange
from chatbotx.inbound.service import REOPENED_FROM
from chatbotx.inboxes.service import credentials_of
from chatbotx.kit import events
from chatbotx.kit.db import utcnow
from chatbotx.kit.errors import Conflict, NotFound, Unauthorized, invalid_field
from chatbotx.kit.ids import new_id, parse_id
from chatbotx.kit.normalize import normalize_email, normalize_phone
from chatbotx.messages.schemas import Message as MessageOut
from chatbotx.models import Contact, ContactInbox, ContactNote, Conversation, Inbox, Member, Message, User
from chatbotx.webchat import schemas
from chatbotx.webchat.public import agent_id, public_conversation, public_message

CHANNEL = "webchat"
MESSAGES_PAGE = 20
CONVERSATIONS_LIMIT = 100
TYPING_ON = "conversation.typing_on"
TYPING_OFF = "conversation.typing_off"
IDENTITY_FAILED = "IDENTITY_VERIFICATION_FAILED"


@dataclasses.dataclass(slots=True)
class Visitor:
    inbox: Inbox
    contact_inbox: ContactInbox
    contact: Contact


# --- the inbox -------------------------------------------------------------------------------------------


async def inbox_of(session: AsyncSession, identifier: str) -> Inbox:
    """The active webchat inbox with this public identifier; 404 INBOX_NOT_FOUND otherwise."""
    inbox = None
    if 0 < len(identifier) <= 64:
        inbox = await session.scalar(
            select(Inbox).where(Inbox.public_token == identifier, Inbox.channel == CHANNEL)
        )
    if inbox is None or inbox.status == "disabled":
        raise NotFound("No webchat inbox has this identifier.", code="INBOX_NOT_FOUND")
    return inbox


def widget_config(inbox: Inbox) -> schemas.WidgetConfig:
    config = inbox.config or {}
    return schemas.WidgetConfig(
        identifier=inbox.public_token or "",
        name=inbox.name,
        website_url=config.get("websiteUrl", ""),
        widget_color=config.get("widgetColor", "#1f93ff"),
        greeting=config.get("greeting", ""),
        hmac_mandatory=bool(config.get("hmacMandatory", False)),
    )


def _mandatory(inbox: Inbox) -> bool:
    return bool((inbox.config or {}).get("hmacMandatory", False))


# --- identity --------------------------------------------------------------------------------------------


def identifier_hash(secret: str, identifier: str) -> str:
    """What the site's server sends for a logged-in visitor: hex HMAC-SHA256(hmacToken, identifier)."""
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def verified_source_id(identity_secret: str, identifier: str) -> str:
    """A verified visitor's source id: the same for the same user id on every device and page load, and
    unguessable from the user id (it is keyed by the inbox's internal identitySecret)."""
    digest = hmac.new(identity_secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()
    return f"v-{digest[:40]}"


def check_identity(inbox: Inbox, identifier: str | None, given_hash: str | None) -> bool:
    """Whether the visitor is verified; 401 IDENTITY_VERIFICATION_FAILED for a wrong hash, or a missing one
    when the inbox makes verification mandatory."""
    if given_hash is not None and identifier is None:
        raise invalid_field("identifier", "is required with identifier_hash")
    if identifier is None or given_hash is None:
        if _mandatory(inbox):
            raise Unauthorized(
                "This inbox accepts only visitors the website identifies (identifier and identifier_hash).",
                code=IDENTITY_FAILED,
                reason="missing",
            )
        return False
    secret = credentials_of(inbox).get("hmacToken", "")
    if not secret or not hmac.compare_digest(identifier_hash(secret, identifier), given_hash.lower()):
        raise Unauthorized(
            "identifier_hash is not the HMAC-SHA256 of identifier with this inbox's key.",
            code=IDENTITY_FAILED,
            reason="invalid",
        )
    return True


# --- visitors --------------------------------------------------------------------------------------------


def _names(name: str | None) -> dict[str, str | None]:
    if not name:
        return {}
    first, _, last = name.strip().partition(" ")
    return {"first_name": first or None, "last_name": last.strip() or None}


async def _taken(
    session: AsyncSession, workspace_id: int, column: Any, value: str, contact_id: int | None
) -> bool:
    stmt = select(Contact.id).where(Contact.workspace_id == workspace_id, column == value)
    if contact_id is not None:
        stmt = stmt.where(Contact.id != contact_id)
    return await session.scalar(stmt.limit(1)) is not None


async def _profile(
    session: AsyncSession,
    inbox: Inbox,
    contact: Contact | None,
    body: schemas.ContactCreate | schemas.ContactUpdate,
) -> tuple[dict[str, Any], list[str]]:
    """The contact fields the body sets, and notes for agents about addresses not set: an email or phone
    another contact already has is never taken over or merged on a visitor's word (the visitor would
    reach that contact's conversations); the agents get a contact note instead, so nothing is lost."""
    sent = body.model_fields_set
    values: dict[str, Any] = {}
    notes: list[str] = []
    if "name" in sent and body.name:
        values.update(_names(body.name))
    if "avatar_url" in sent and body.avatar_url:
        values["avatar"] = body.avatar_url
    contact_id = contact.id if contact is not None else None
    if "email" in sent and body.email:
        email = normalize_email(body.email, field="email")
        if contact is None or contact.email != email:
            if await _taken(session, inbox.workspace_id, Contact.email, email, contact_id):
                notes.append(
                    f"The webchat visitor left the email address {email}, which another contact has."
                )
            else:
                values["email"] = email
    if "phone_number" in sent and body.phone_number:
        phone = normalize_phone(body.phone_number, field="phone_number")
        if contact is None or contact.phone_number != phone:
            if await _taken(session, inbox.workspace_id, Contact.phone_number, phone, contact_id):
                notes.append(f"The webchat visitor left the phone number {phone}, which another contact has.")
            else:
                values["phone_number"] = phone
    return values, notes


async def _custom_attributes(
    session: AsyncSession, contact: Contact, attributes: dict[str, Any] | None, verified: bool
) -> None:
    if not attributes:
        return
    if not verified:
        raise invalid_field(
            "custom_attributes", "only a visitor verified by the website (identifier_hash) may set them"
        )
    await contact_fields.set_values(
        session, contact, [FieldAssignment(name=name, value=value) for name, value in attributes.items()]
    )


async def _notes(session: AsyncSession, contact: Contact, notes: list[str]) -> None:
    for text in notes:
        session.add(ContactNote(contact_id=contact.id, text=text, created_by_id=None))


async def _new_visitor(
    session: AsyncSession, inbox: Inbox, source_id: str, values: dict[str, Any], verified: bool
) -> Visitor:
    data = contact_schemas.ContactCreate.model_validate(
        {k: v for k, v in values.items() if k in contact_schemas.ContactCreate.model_fields}
    )
    contact = await contacts.create(session, inbox.workspace_id, data, {"source": CHANNEL})
    contact_inbox = ContactInbox(
        contact_id=contact.id,
        inbox_id=inbox.id,
        source_id=source_id,
        pubsub_token=secrets.token_urlsafe(24),
        hmac_verified=verified,
    )
    session.add(contact_inbox)
    await session.flush()
    return Visitor(inbox, contact_inbox, contact)


async def _update_contact(session: AsyncSession, visitor: Visitor, values: dict[str, Any]) -> None:
    changed = {k: v for k, v in values.items() if getattr(visitor.contact, k) != v}
    if not changed:
        return
    data = contact_schemas.ContactUpdate.model_validate(changed)
    visitor.contact = await contacts.update(
        session, visitor.inbox.workspace_id, str(visitor.contact.id), data
    )


async def create_visitor(session: AsyncSession, inbox: Inbox, body: schemas.ContactCreate) -> Visitor:
    """A new anonymous visitor, or, for an identifier with a valid hash, that user's visitor (the same source
    id, contact and conversations on every device). An identifier without a hash is not trusted: the visitor
    is anonymous."""
    verified = check_identity(inbox, body.identifier, body.identifier_hash)
    if verified:
        assert body.identifier is not None
        secret = credentials_of(inbox).get("identitySecret") or credentials_of(inbox)["hmacToken"]
        source_id = verified_source_id(secret, body.identifier)
        existing = await _visitor_row(session, inbox, source_id)
        if existing is not None:
            values, notes = await _profile(session, inbox, existing.contact, body)
            await _update_contact(session, existing, values)
            await _notes(session, existing.contact, notes)
            await _custom_attributes(session, existing.contact, body.custom_attributes, True)
            return existing
    else:
        source_id = str(uuid.uuid4())
    values, notes = await _profile(session, inbox, None, body)
    try:
        visitor = await _new_visitor(session, inbox, source_id, values, verified)
    except IntegrityError as exc:  # the same user's first two page loads at the same instant
        raise Conflict("This visitor was just created; retry.", code="VISITOR_CONFLICT") from exc
    await _notes(session, visitor.contact, notes)
    await _custom_attributes(session, visitor.contact, body.custom_attributes, verified)
    return visitor


async def _visitor_row(session: AsyncSession, inbox: Inbox, source_id: str) -> Visitor | None:
    if not 0 < len(source_id) <= 255:
        return None
    row = (
        await session.execute(
            select(ContactInbox, Contact)
            .join(Contact, Contact.id == ContactInbox.contact_id)
            .where(ContactInbox.inbox_id == inbox.id, ContactInbox.source_id == source_id)
        )
    ).first()
    if row is None:
        return None
    return Visitor(inbox, row[0], row[1])


async def visitor_of(session: AsyncSession, inbox: Inbox, source_id: str) -> Visitor:
    """The visitor named by `source_id` on this inbox; 404 CONTACT_NOT_FOUND. On an inbox that makes
    verification mandatory, a visitor that was not verified is refused (401)."""
    visitor = await _visitor_row(session, inbox, source_id)
    if visitor is None:
        raise NotFound("No visitor has this source id on this inbox.", code="CONTACT_NOT_FOUND")
    if _mandatory(inbox) and not visitor.contact_inbox.hmac_verified:
        raise Unauthorized(
            "This inbox accepts only visitors identified by the website.",
            code=IDENTITY_FAILED,
            reason="missing",
        )
    return visitor


def contact_out(visitor: Visitor) -> schemas.PublicContact:
    c = visitor.contact
    return schemas.PublicContact(
        source_id=visitor.contact_inbox.source_id,
        pubsub_token=visitor.contact_inbox.pubsub_token or "",
        id=str(c.id),
        name=c.full_name,
        email=c.email,
        phone_number=c.phone_number,
        identifier_verified=visitor.contact_inbox.hmac_verified,
    )


async def update_visitor(session: AsyncSession, visitor: Visitor, body: schemas.ContactUpdate) -> Visitor:
    """ "Leave an email": set the visitor's name, email or phone (validated). A verified identity may be given
    too (identifier + identifier_hash) to set custom attributes."""
    verified = visitor.contact_inbox.hmac_verified
    if body.identifier is not None or body.identifier_hash is not None:
        verified = check_identity(visitor.inbox, body.identifier, body.identifier_hash) or verified
    values, notes = await _profile(session, visitor.inbox, visitor.contact, body)
    await _update_contact(session, visitor, values)
    await _notes(session, visitor.contact, notes)
    await _custom_attributes(session, visitor.contact, body.custom_attributes, verified)
    await session.flush()
    return visitor


# --- conversations ---------------------------------------------------------------------------------------


async def _conversation_events(
    session: AsyncSession, conversation: Conversation, types: list[str], previous_status: str | None = None
) -> None:
    """Publish the conversation's `types` events with its object as the agent API shows it."""
    out = (await conversations.objects(session, [conversation.id], refresh=True))[0]
    payload = conversations.event_payload(out, previous_status)
    for type in types:
        await events.publish(session, conversation.workspace_id, type, payload)


async def create_conversation(
    session: AsyncSession, visitor: Visitor, body: schemas.ConversationCreate
) -> schemas.PublicConversation:
    attributes = {"customAttributes": body.custom_attributes} if body.custom_attributes else {}
    now = utcnow()
    conversation = Conversation(
        workspace_id=visitor.inbox.workspace_id,
        contact_id=visitor.contact.id,
        inbox_id=visitor.inbox.id,
        status="open",
        bot_enabled=True,
        followed=False,
        additional_attributes=attributes,
        last_activity_at=now,
    )
    session.add(conversation)
    await session.flush()
    await _conversation_events(session, conversation, [events.CONVERSATION_CREATED])
    return public_conversation(conversation)


async def list_conversations(session: AsyncSession, visitor: Visitor) -> list[schemas.PublicConversation]:
    """The visitor's conversations on this inbox, the most recently active first."""
    rows = (
        await session.execute(
            select(Conversation)
            .where(Conversation.inbox_id == visitor.inbox.id, Conversation.contact_id == visitor.contact.id)
            .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
            .limit(CONVERSATIONS_LIMIT)
        )
    ).scalars()
    return [public_conversation(c) for c in rows]


async def conversation_of(session: AsyncSession, visitor: Visitor, conversation_id: str) -> Conversation:
    """The visitor's conversation with this id; 404 CONVERSATION_NOT_FOUND for any other (another visitor's
    included: one visitor cannot tell another's conversations from ids that do not exist)."""
    parsed = parse_id(conversation_id) if len(conversation_id) <= 40 else None
    conversation = None
    if parsed is not None:
        conversation = await session.scalar(
            select(Conversation).where(
                Conversation.id == parsed,
                Conversation.inbox_id == visitor.inbox.id,
                Conversation.contact_id == visitor.contact.id,
            )
        )
    if conversation is None:
        raise NotFound("The visitor has no conversation with this id.", code="CONVERSATION_NOT_FOUND")
    return conversation


async def resolve(session: AsyncSession, conversation: Conversation) -> schemas.PublicConversation:
    """toggle_status: the visitor ends the conversation (resolved); writing again reopens it."""
    if conversation.status != "resolved":
        await conversations.set_status(session, conversation, StatusChange(status="resolved"))
    return public_conversation(conversation)


async def typing(session: AsyncSession, visitor: Visitor, conversation: Conversation, on: bool) -> None:
    """The visitor started or stopped typing: conversation.typing_on / typing_off for the agents."""
    # The agents' typing events carry the same keys (conversations.service.set_typing); `sender` tells the
    # visitor's own typing apart, so its stream does not echo it back.
    payload = {
        "conversationId": str(conversation.id),
        "contactId": str(visitor.contact.id),
        "inboxId": str(visitor.inbox.id),
        "typing": on,
        "sender": {"type": "contact", "id": str(visitor.contact.id)},
    }
    await events.publish(session, conversation.workspace_id, TYPING_ON if on else TYPING_OFF, payload)


async def update_last_seen(session: AsyncSession, conversation: Conversation) -> schemas.PublicConversation:
    conversation.contact_last_read_at = utcnow()
    await session.flush()
    await _conversation_events(session, conversation, [events.CONVERSATION_UPDATED])
    return public_conversation(conversation)


# --- messages --------------------------------------------------------------------------------------------


async def list_messages(
    session: AsyncSession, conversation: Conversation, before: str | None
) -> list[schemas.PublicMessage]:
    """Up to 20 messages of the conversation before the message id `before` (default: the newest), oldest
    first; private notes never."""
    stmt = select(Message).where(Message.conversation_id == conversation.id, Message.private.is_(False))
    if before is not None:
        cursor = parse_id(before) if len(before) <= 40 else None
        if cursor is None:
            raise invalid_field("before", "must be a message id")
        stmt = stmt.where(Message.id < cursor)
    rows = list((await session.execute(stmt.order_by(Message.id.desc()).limit(MESSAGES_PAGE))).scalars())
    payloads = [_message_json(m) for m in reversed(rows)]
    names = await agent_names(session, conversation.workspace_id, payloads)
    return [public_message(p, names) for p in payloads]


async def agent_names(
    session: AsyncSession, workspace_id: int, payloads: list[dict[str, Any]]
) -> dict[int, str | None]:
    """The display names of the agents who sent these messages (member id -> the user's name; no emails)."""
    ids = {member for p in payloads if (member := agent_id(p)) is not None}
    if not ids:
        return {}
    rows = await session.execute(
        select(Member.id, User.name)
        .join(User, User.id == Member.user_id)
        .where(Member.workspace_id == workspace_id, Member.id.in_(ids))
    )
    return {row.id: row.name or None for row in rows}


def _message_json(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable_python(MessageOut.model_validate(message).model_dump(by_alias=True))
    return data


async def create_message(
    session: AsyncSession, visitor: Visitor, conversation: Conversation, body: schemas.MessageCreate
) -> schemas.PublicMessage:
    """The visitor's message: stored as an incoming message like any channel's (the conversation reopens if
    it was resolved or snoozed), with message.created and conversation events for the agents. Sending the
    same echo_id again returns the message stored the first time (a retried request is not a new message)."""
    ci = visitor.contact_inbox
    provider_id = f"webchat:{ci.id}:{body.echo_id}" if body.echo_id else f"webchat:{ci.id}:{new_id()}"
    if body.echo_id:
        existing = await session.scalar(
            select(Message).where(
                Message.inbox_id == visitor.inbox.id, Message.provider_message_id == provider_id
            )
        )
        if existing is not None:
            return public_message(_message_json(existing))
    now = utcnow()
    previous = conversation.status
    if previous in REOPENED_FROM:
        conversation.status = "open"
        conversation.snoozed_until = None
    conversation.last_activity_at = conversation.contact_replied_at = now
    ci.last_inbound_at = now
    ci.unreachable_at = ci.unreachable_reason = None
    visitor.contact.last_interaction_at = now
    message = Message(
        workspace_id=visitor.inbox.workspace_id,
        conversation_id=conversation.id,
        contact_id=visitor.contact.id,
        inbox_id=visitor.inbox.id,
        direction="incoming",
        private=False,
        sender_type="contact",
        sender_id=visitor.contact.id,
        content_type="text",
        content=body.content,
        attachments=[],
        content_attributes={"echoId": body.echo_id} if body.echo_id else {},
        status="delivered",
        provider_message_id=provider_id,
        next_attempt_at=None,
    )
    session.add(message)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same echo_id posted twice at the same instant
        raise Conflict(
            "A message with this echo_id is being stored; retry.", code="DUPLICATE_MESSAGE"
        ) from exc
    payload = _message_json(message)
    await events.publish(session, message.workspace_id, events.MESSAGE_CREATED, payload)
    if previous != conversation.status:  # reopened
        types = [events.CONVERSATION_STATUS_CHANGED, events.CONVERSATION_UPDATED]
        await _conversation_events(session, conversation, types, previous)
    else:
        await _conversation_events(session, conversation, [events.CONVERSATION_UPDATED])
    return public_message(payload)


def token_matches(visitor: Visitor, token: str | None) -> bool:
    expected = visitor.contact_inbox.pubsub_token
    return bool(token and expected and hmac.compare_digest(token.encode(), expected.encode()))
