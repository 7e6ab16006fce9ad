"""Conversations: listing (the inbox filters as SQL, keyset paging, nested objects in two queries per page),
one conversation and its messages, and the agent's actions on it (reply, note, assign, status, bot, read,
follow)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.channels import registry
from chatbotx.channels.base import ProviderError
from chatbotx.channels.context import channel_context
from chatbotx.conversations.schemas import (
    Assignment,
    BotSetting,
    ConversationReply,
    StatusChange,
)
from chatbotx.conversations.schemas import Conversation as ConversationOut
from chatbotx.dispatcher import outbound
from chatbotx.dispatcher.policy import (
    channel_name,
    check_tag,
    outside_window_message,
    pick_contact_inbox,
    window_open,
)
from chatbotx.kit import events
from chatbotx.kit.db import utcnow
from chatbotx.kit.errors import BusinessError, Conflict, NotFound, invalid_field
from chatbotx.kit.ids import parse_id
from chatbotx.kit.pagination import CursorPage
from chatbotx.kit.security import Principal
from chatbotx.lists.audience import contact_filter_where
from chatbotx.lists.paging import decode_keyset, encode_keyset
from chatbotx.lists.params import contains_any
from chatbotx.messages.schemas import Message as MessageOut
from chatbotx.messages.service import file_attachments, newest_first, queue_outgoing_message
from chatbotx.models import (
    Contact,
    ContactInbox,
    ContactTag,
    Conversation,
    Inbox,
    Member,
    Message,
    Team,
    User,
)

log = logging.getLogger("chatbotx.conversations")
CONVERSATION_STATUSES = ("open", "pending", "snoozed", "resolved")


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationQuery:
    """The parsed filters of a conversations list (None = not filtered)."""

    bot_category: str | None = None
    bot_enabled: bool | None = None
    assigned_id: int | None = None
    channel: str | None = None
    status: str | None = None
    keyword: str | None = None
    tag_ids: tuple[int, ...] = ()
    contact_filter: dict[str, Any] | None = None


def status_clause(status: str) -> ColumnElement[bool]:
    """The inbox view or conversation status named `status` (see docs/conversations.md)."""
    if status in CONVERSATION_STATUSES:
        return Conversation.status == status
    if status == "noAdminReply":
        # The contact wrote and no admin has replied since.
        return and_(
            Conversation.contact_replied_at.is_not(None),
            or_(
                Conversation.admin_replied_at.is_(None),
                Conversation.admin_replied_at < Conversation.contact_replied_at,
            ),
        )
    if status == "unread":
        # The contact wrote after an agent last read the conversation.
        return and_(
            Conversation.contact_replied_at.is_not(None),
            or_(
                Conversation.agent_last_read_at.is_(None),
                Conversation.agent_last_read_at < Conversation.contact_replied_at,
            ),
        )
    if status == "followUp":
        return Conversation.followed.is_(True)
    if status == "archived":
        return Conversation.archived_at.is_not(None)
    if status == "blocked":
        return Contact.blocked_at.is_not(None)
    raise ValueError(f"unknown status {status!r}")


def assigned_clause(workspace_id: int, assigned_id: int) -> ColumnElement[bool]:
    """Assigned to this user, or to the user of this workspace member (the members API shows member ids)."""
    member_user = select(Member.user_id).where(Member.id == assigned_id, Member.workspace_id == workspace_id)
    return or_(Conversation.assigned_user_id == assigned_id, Conversation.assigned_user_id.in_(member_user))


ConversationRows = Select[Conversation, Contact, Inbox, User, Team]


async def _filtered(session: AsyncSession, workspace_id: int, query: ConversationQuery) -> ConversationRows:
    stmt = (
        select(Conversation, Contact, Inbox, User, Team)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Inbox, Inbox.id == Conversation.inbox_id)
        .outerjoin(User, User.id == Conversation.assigned_user_id)
        .outerjoin(Team, Team.id == Conversation.assigned_team_id)
        .where(Conversation.workspace_id == workspace_id)
    )
    if query.bot_category in ("bot", "human"):
        stmt = stmt.where(Conversation.bot_enabled.is_(query.bot_category == "bot"))
    if query.bot_enabled is not None:
        stmt = stmt.where(Conversation.bot_enabled.is_(query.bot_enabled))
    if query.assigned_id is not None:
        stmt = stmt.where(assigned_clause(workspace_id, query.assigned_id))
    if query.channel:
        stmt = stmt.where(Inbox.channel == query.channel)
    if query.status:
        stmt = stmt.where(status_clause(query.status))
    if query.keyword and query.keyword.strip():
        stmt = stmt.where(
            contains_any(
                query.keyword,
                Contact.first_name,
                Contact.last_name,
                Contact.full_name,
                Contact.email,
                Contact.phone_number,
            )
        )
    if query.tag_ids:
        tagged = select(ContactTag.contact_id).where(
            ContactTag.contact_id == Contact.id, ContactTag.tag_id.in_(query.tag_ids)
        )
        stmt = stmt.where(tagged.exists())
    if query.contact_filter is not None:
        stmt = stmt.where(await contact_filter_where(session, workspace_id, query.contact_filter))
    return stmt


def _after(cursor: str | None) -> ColumnElement[bool] | None:
    """Rows strictly after the cursor in (lastActivityAt desc, id desc) order."""
    position = decode_keyset(cursor)
    if position is None:
        return None
    at, row_id = position
    return or_(
        Conversation.last_activity_at < at,
        and_(Conversation.last_activity_at == at, Conversation.id < row_id),
    )


async def _last_messages(session: AsyncSession, conversation_ids: list[int]) -> dict[int, Message]:
    """The newest message of each conversation (ids are time-ordered, so the newest is the max id)."""
    if not conversation_ids:
        return {}
    newest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(conversation_ids))
        .group_by(Message.conversation_id)
    )
    rows = (await session.execute(select(Message).where(Message.id.in_(newest)))).scalars()
    return {message.conversation_id: message for message in rows}


def conversation_out(
    conversation: Conversation,
    contact: Contact,
    inbox: Inbox | None,
    user: User | None,
    team: Team | None,
    last_message: Message | None,
) -> dict[str, Any]:
    c = conversation
    return {
        "id": c.id,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "status": c.status,
        "snoozed_until": c.snoozed_until,
        "bot_enabled": c.bot_enabled,
        "bot_resume_at": c.bot_resume_at,
        "archived_at": c.archived_at,
        "additional_attributes": c.additional_attributes,
        "contact_last_read_at": c.contact_last_read_at,
        "agent_last_read_at": c.agent_last_read_at,
        "last_activity_at": c.last_activity_at,
        "followed": c.followed,
        "workspace_id": c.workspace_id,
        "contact_id": c.contact_id,
        "admin_replied_at": c.admin_replied_at,
        "contact_replied_at": c.contact_replied_at,
        "ai_context_last_message_id": c.ai_context_last_message_id,
        "assigned_user_id": c.assigned_user_id,
        "assigned_inbox_team_id": c.assigned_team_id,
        "assigned_user": user,
        "assigned_inbox_team": team,
        "inbox": inbox,
        "contact": contact,
        "last_message": last_message,
    }


async def list_conversations(
    session: AsyncSession, workspace_id: int, query: ConversationQuery, cursor: str | None, per_page: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page, newest activity first, and the cursor of the next page (None at the end)."""
    stmt = await _filtered(session, workspace_id, query)
    after = _after(cursor)
    if after is not None:
        stmt = stmt.where(after)
    stmt = stmt.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(per_page + 1)
    rows = (await session.execute(stmt)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    last = await _last_messages(session, [row[0].id for row in rows])
    data = [
        conversation_out(conversation, contact, inbox, user, team, last.get(conversation.id))
        for conversation, contact, inbox, user, team in rows
    ]
    next_cursor = None
    if more:
        final = rows[-1][0]
        next_cursor = encode_keyset(final.last_activity_at, final.id)
    return data, next_cursor


# ---- one conversation: get, its messages, and the agent's actions on it ----
# Every change publishes conversation.updated (plus conversation.status_changed / conversation.assigned when
# those change, message.created for a reply or note) in the caller's transaction; nothing here commits.

SNOOZE_BATCH = 500
WAKE_INTERVAL = 5.0  # seconds between two looks for due snoozes in one process
_last_wake = float("-inf")  # time.monotonic() of this process's last look


def _rows() -> ConversationRows:
    return (
        select(Conversation, Contact, Inbox, User, Team)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Inbox, Inbox.id == Conversation.inbox_id)
        .outerjoin(User, User.id == Conversation.assigned_user_id)
        .outerjoin(Team, Team.id == Conversation.assigned_team_id)
    )


async def objects(
    session: AsyncSession, conversation_ids: Sequence[int], *, refresh: bool = False
) -> list[ConversationOut]:
    """The conversation objects of these ids (in that order), in two queries; `refresh` re-reads rows the
    session already holds (after a bulk UPDATE)."""
    if not conversation_ids:
        return []
    stmt = _rows().where(Conversation.id.in_(conversation_ids))
    if refresh:
        stmt = stmt.execution_options(populate_existing=True)
    rows = (await session.execute(stmt)).all()
    last = await _last_messages(session, [row[0].id for row in rows])
    by_id = {
        row[0].id: ConversationOut.model_validate(conversation_out(*row, last.get(row[0].id))) for row in rows
    }
    return [by_id[i] for i in conversation_ids if i in by_id]


async def get(session: AsyncSession, workspace_id: int, conversation_id: str) -> Conversation:
    """The workspace's conversation with this id (a malformed id or another workspace's is a 404)."""
    parsed = parse_id(conversation_id)
    conversation = None
    if parsed is not None:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.id == parsed, Conversation.workspace_id == workspace_id)
        )
    if conversation is None:
        raise NotFound("Conversation not found.", resource="conversation")
    return conversation


async def get_out(session: AsyncSession, workspace_id: int, conversation_id: str) -> ConversationOut:
    conversation = await get(session, workspace_id, conversation_id)
    return (await objects(session, [conversation.id]))[0]


async def list_messages(
    session: AsyncSession, conversation: Conversation, cursor: str | None, per_page: int
) -> CursorPage[MessageOut]:
    """Newest first, private notes included; the cursor is the id of the last message of the previous page."""
    stmt = select(Message).where(Message.conversation_id == conversation.id)
    return await newest_first(session, stmt, cursor, per_page)


def _json(model: ConversationOut | MessageOut) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)


def event_payload(out: ConversationOut, previous_status: str | None = None) -> dict[str, Any]:
    """A conversation.* event's payload: the conversation object plus the keys of the inbound pipeline's
    conversation events (inboxId, assignedTeamId, previousStatus: set when the status changed, else null)."""
    payload = _json(out)
    payload["inboxId"] = payload["inbox"]["id"] if payload.get("inbox") else None
    payload["assignedTeamId"] = payload["assignedInboxTeamId"]
    payload["previousStatus"] = previous_status
    return payload


async def _changed(
    session: AsyncSession,
    conversation: Conversation,
    *,
    previous_status: str | None = None,
    assigned: bool = False,
) -> ConversationOut:
    """Flush `conversation`'s change and publish its events; returns the conversation object."""
    await session.flush()
    out = (await objects(session, [conversation.id]))[0]
    status_changed = previous_status is not None and previous_status != conversation.status
    payload = event_payload(out, previous_status if status_changed else None)
    ws = conversation.workspace_id
    if status_changed:
        await events.publish(session, ws, events.CONVERSATION_STATUS_CHANGED, payload)
    if assigned:
        await events.publish(session, ws, events.CONVERSATION_ASSIGNED, payload)
    await events.publish(session, ws, events.CONVERSATION_UPDATED, payload)
    return out


def reply_attributes(body: ConversationReply) -> dict[str, Any]:
    """The message's contentAttributes for a reply: the shape docs/conversations.md documents."""
    attributes: dict[str, Any] = {}
    if body.buttons:
        attributes["buttons"] = [
            {"title": b.title, "payload": b.payload}
            if b.payload is not None
            else {"title": b.title, "url": b.url}
            for b in body.buttons
        ]
    if body.quick_replies:
        attributes["quickReplies"] = [
            {"title": q, "payload": q}
            if isinstance(q, str)
            else {"title": q.title, "payload": q.payload if q.payload is not None else q.title}
            for q in body.quick_replies
        ]
    if body.template is not None:
        t = body.template
        attributes["template"] = {"name": t.name, "language": t.language, "components": t.components}
    if body.tag is not None:
        attributes["tag"] = body.tag
    if body.subject is not None:
        attributes["email"] = {"subject": body.subject}
    return attributes


def _check_reply(body: ConversationReply) -> None:
    if body.template is not None:
        if body.text is not None or body.files or body.buttons or body.quick_replies:
            raise invalid_field(
                "template", "send a template alone, without text, files, buttons or quickReplies"
            )
        return
    if body.text is None and not body.files:
        raise invalid_field("text", "give text, files or template")
    if (body.buttons or body.quick_replies) and body.text is None:
        raise invalid_field("text", "buttons and quickReplies need text")


async def reply(
    session: AsyncSession, who: Principal, conversation: Conversation, body: ConversationReply
) -> MessageOut:
    """Queue an agent's message to the contact in this conversation (the dispatcher sends it)."""
    _check_reply(body)
    if conversation.inbox_id is None:
        raise BusinessError("The conversation has no inbox to reply on.", code="NO_INBOX")
    contact = await session.get_one(Contact, conversation.contact_id)
    attachments = await file_attachments(session, conversation.workspace_id, body.files or [])
    attributes = reply_attributes(body)
    await _check_channel_limits(session, conversation.inbox_id, body.text, attachments, attributes)
    previous_status = conversation.status
    # The queue writes into the contact's latest conversation on the inbox: make it this one.
    conversation.last_activity_at = utcnow()
    await session.flush()
    message = await queue_outgoing_message(
        session,
        contact,
        conversation.inbox_id,
        content=body.text,
        attachments=attachments,
        sender_type="agent",
        sender_id=who.member_id,
        content_type="template" if body.template is not None else "text",
        content_attributes=attributes,
    )
    if message.conversation_id != conversation.id:  # pragma: no cover - a same-instant tie on another row
        raise Conflict("Another conversation of the contact on this inbox is newer; reply there.")
    out = MessageOut.model_validate(message)  # queue_outgoing_message published message.created
    await _changed(session, conversation, previous_status=previous_status)
    return out


async def _check_channel_limits(
    session: AsyncSession,
    inbox_id: int,
    text: str | None,
    attachments: list[dict[str, Any]],
    attributes: dict[str, Any],
) -> None:
    """The channel's own limits (Messenger's 3 buttons, 13 quick replies, title lengths...): a 422 naming the
    field now rather than a failed message later. Adapters without a `validate` method check at send time."""
    inbox = await session.get(Inbox, inbox_id)
    adapter = registry.get(inbox.channel) if inbox is not None else None
    if inbox is None or adapter is None:
        return
    check_tag(inbox.channel, attributes)
    validate = getattr(adapter, "validate", None)
    if validate is not None:
        draft = Message(id=0, content=text, attachments=attachments, content_attributes=attributes)
        validate(outbound.build(draft, ""))


async def _sender_action(
    session: AsyncSession, conversation: Conversation, action: str, *, strict: bool
) -> None:
    """The channel's sender action (typing_on, typing_off, mark_seen) in the contact's thread, where the
    channel has them. `strict`: an unreachable contact, a closed window or a provider refusal is a 400;
    otherwise the action is skipped (a courtesy, like "seen", never fails the operation it goes with)."""
    inbox = await session.get(Inbox, conversation.inbox_id) if conversation.inbox_id is not None else None
    adapter = registry.get(inbox.channel) if inbox is not None else None
    sender_action = getattr(adapter, "sender_action", None)
    if inbox is None or adapter is None or sender_action is None:
        return
    rows = (
        await session.scalars(
            select(ContactInbox).where(
                ContactInbox.contact_id == conversation.contact_id,
                ContactInbox.inbox_id == inbox.id,
                ContactInbox.unreachable_at.is_(None),
            )
        )
    ).all()
    target = pick_contact_inbox(list(rows))
    window = adapter.window
    refusal: BusinessError | None = None
    if target is None:
        refusal = BusinessError(
            "The contact cannot be reached on this conversation's channel.", code="CONTACT_UNREACHABLE"
        )
    elif window is not None and not window_open(target.last_inbound_at, window, utcnow()):
        refusal = BusinessError(
            outside_window_message(inbox.channel, window, target.last_inbound_at), code="OUTSIDE_WINDOW"
        )
    if refusal is not None or target is None:
        if strict and refusal is not None:
            raise refusal
        return
    try:
        await sender_action(channel_context(inbox), target.source_id, action)
    except ProviderError as exc:
        if strict:
            raise BusinessError(
                f"{channel_name(inbox.channel)} refused the {action} action: {exc.message}",
                code="CHANNEL_ERROR",
                reason=exc.code,
            ) from exc
        log.info("sender action %s on inbox %s failed: %s", action, inbox.id, exc.message)


async def set_typing(session: AsyncSession, conversation: Conversation, typing: bool) -> None:
    """Show (or hide) the typing indicator in the contact's thread: the channel's sender action where it has
    one (Messenger, Instagram, Telegram), and a conversation.typing_on/off event (the webchat forwards it)."""
    await _sender_action(session, conversation, "typing_on" if typing else "typing_off", strict=True)
    await events.publish(
        session,
        conversation.workspace_id,
        events.CONVERSATION_TYPING_ON if typing else events.CONVERSATION_TYPING_OFF,
        {
            "conversationId": str(conversation.id),
            "contactId": str(conversation.contact_id),
            "inboxId": str(conversation.inbox_id) if conversation.inbox_id is not None else None,
            "typing": typing,
        },
    )


async def add_note(
    session: AsyncSession, who: Principal, conversation: Conversation, text: str
) -> MessageOut:
    """A private message by the agent: shown to agents, never queued (status sent, nothing due)."""
    now = utcnow()
    message = Message(
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        inbox_id=conversation.inbox_id,
        direction="outgoing",
        private=True,
        sender_type="agent",
        sender_id=who.member_id,
        content_type="text",
        content=text,
        attachments=[],
        content_attributes={},
        status="sent",
        next_attempt_at=None,
    )
    session.add(message)
    conversation.last_activity_at = now
    await session.flush()
    out = MessageOut.model_validate(message)
    await events.publish(session, conversation.workspace_id, events.MESSAGE_CREATED, _json(out))
    await _changed(session, conversation)
    return out


async def _member_user(session: AsyncSession, workspace_id: int, assignee_id: int) -> int:
    """The user id of the workspace member with this member id (or user id); 404 otherwise."""
    user_id = await session.scalar(
        select(Member.user_id)
        .where(
            Member.workspace_id == workspace_id, or_(Member.id == assignee_id, Member.user_id == assignee_id)
        )
        .limit(1)
    )
    if user_id is None:
        raise NotFound("Member not found.", resource="member", assigneeId=str(assignee_id))
    return user_id


async def assign(session: AsyncSession, conversation: Conversation, body: Assignment) -> ConversationOut:
    """Set the assignee and/or the team; a field left out keeps its value, null clears it."""
    given = body.model_fields_set
    if not given & {"assignee_id", "team_id"}:
        raise invalid_field("assigneeId", "give assigneeId, teamId or both")
    ws = conversation.workspace_id
    before = (conversation.assigned_user_id, conversation.assigned_team_id)
    if "assignee_id" in given:
        conversation.assigned_user_id = (
            None if body.assignee_id is None else await _member_user(session, ws, body.assignee_id)
        )
    if "team_id" in given:
        if body.team_id is not None:
            found = await session.scalar(
                select(Team.id).where(Team.id == body.team_id, Team.workspace_id == ws)
            )
            if found is None:
                raise NotFound("Team not found.", resource="team", teamId=str(body.team_id))
        conversation.assigned_team_id = body.team_id
    after = (conversation.assigned_user_id, conversation.assigned_team_id)
    return await _changed(session, conversation, assigned=after != before)


async def set_status(
    session: AsyncSession, conversation: Conversation, body: StatusChange
) -> ConversationOut:
    """open | pending | resolved, or snoozed until a future time (then reopened by wake_snoozed)."""
    if body.status == "snoozed":
        if body.snoozed_until is None:
            raise invalid_field("snoozedUntil", "is required to snooze")
        if _aware(body.snoozed_until) <= utcnow():
            raise invalid_field("snoozedUntil", "must be in the future")
    elif body.snoozed_until is not None:
        raise invalid_field("snoozedUntil", "only with status snoozed")
    previous = conversation.status
    conversation.status = body.status
    conversation.snoozed_until = _aware(body.snoozed_until) if body.snoozed_until is not None else None
    return await _changed(session, conversation, previous_status=previous)


async def set_bot(session: AsyncSession, conversation: Conversation, body: BotSetting) -> ConversationOut:
    """Bot on or off for this conversation; off may be until botResumeAt (then wake_snoozed turns it on)."""
    if body.bot_resume_at is not None:
        if body.bot_enabled:
            raise invalid_field("botResumeAt", "only with botEnabled false")
        if _aware(body.bot_resume_at) <= utcnow():
            raise invalid_field("botResumeAt", "must be in the future")
    if conversation.bot_enabled and not body.bot_enabled:
        conversation.transferred_to_human_at = utcnow()
    conversation.bot_enabled = body.bot_enabled
    conversation.bot_resume_at = _aware(body.bot_resume_at) if body.bot_resume_at is not None else None
    return await _changed(session, conversation)


async def mark_read(session: AsyncSession, conversation: Conversation) -> ConversationOut:
    """The agents have read the conversation; on Messenger and Instagram the contact sees it as seen."""
    conversation.agent_last_read_at = utcnow()
    await _sender_action(session, conversation, "mark_seen", strict=False)
    return await _changed(session, conversation)


async def set_followed(session: AsyncSession, conversation: Conversation, followed: bool) -> ConversationOut:
    conversation.followed = followed
    return await _changed(session, conversation)


def _aware(value: dt.datetime) -> dt.datetime:
    """A datetime without a zone is UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


async def _claim(
    session: AsyncSession, where: list[ColumnElement[bool]], values: dict[str, Any]
) -> list[int]:
    """Change up to SNOOZE_BATCH rows matching `where`, each by one compare-and-set UPDATE (so concurrent
    callers never both change a row); returns the ids changed."""
    ids = list((await session.execute(select(Conversation.id).where(*where).limit(SNOOZE_BATCH))).scalars())
    if not ids:
        return []
    stmt = update(Conversation).where(Conversation.id.in_(ids), *where).values(values)
    result = await session.execute(
        stmt.returning(Conversation.id), execution_options={"synchronize_session": False}
    )
    return list(result.scalars())


async def wake_snoozed(session: AsyncSession, now: dt.datetime, *, interval: float = WAKE_INTERVAL) -> int:
    """Reopen snoozed conversations whose snoozedUntil has passed, and turn the bot back on where botResumeAt
    has passed, publishing their events. Returns how many conversations changed (at most SNOOZE_BATCH of
    each kind per call). Safe to run in several workers at once.

    Call it every tick: it looks at the database at most once per `interval` seconds in a process (the scan
    is not free), except right after a full batch, when more are waiting."""
    global _last_wake
    if interval > 0 and time.monotonic() - _last_wake < interval:
        return 0
    woken = await _claim(
        session,
        [Conversation.status == "snoozed", Conversation.snoozed_until <= now],
        {"status": "open", "snoozed_until": None, "updated_at": now},
    )
    for out in await objects(session, woken, refresh=True):
        payload = event_payload(out, "snoozed")
        await events.publish(session, out.workspace_id, events.CONVERSATION_STATUS_CHANGED, payload)
        await events.publish(session, out.workspace_id, events.CONVERSATION_UPDATED, payload)
    resumed = await _claim(
        session,
        [Conversation.bot_enabled.is_(False), Conversation.bot_resume_at <= now],
        {"bot_enabled": True, "bot_resume_at": None, "updated_at": now},
    )
    for out in await objects(session, resumed, refresh=True):
        await events.publish(session, out.workspace_id, events.CONVERSATION_UPDATED, event_payload(out))
    full = len(woken) == SNOOZE_BATCH or len(resumed) == SNOOZE_BATCH
    _last_wake = float("-inf") if full else time.monotonic()
    return len(woken) + len(resumed)
