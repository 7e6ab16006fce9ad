"""A contact's messages, and queueing what is sent to a contact: outgoing messages and flow runs.

`queue_outgoing_message` and `start_flow_run` are the entry points the delivery pipeline and the automation
engine reuse: each writes its row in the caller's transaction and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.automation.keywords import KeywordRule, best_match
from chatbotx.dispatcher.policy import check_sendable, check_tag
from chatbotx.dispatcher.runner import notify_after_commit
from chatbotx.kit import events
from chatbotx.kit.db import utcnow
from chatbotx.kit.errors import BusinessError, NotFound, invalid_field
from chatbotx.kit.ids import parse_id
from chatbotx.kit.pagination import CursorPage, decode_cursor, encode_cursor
from chatbotx.kit.security import Principal
from chatbotx.messages.schemas import AutoReplyTrigger, FlowSend, MessageSend
from chatbotx.messages.schemas import Message as MessageOut
from chatbotx.models import (
    Contact,
    ContactInbox,
    Conversation,
    Flow,
    FlowRun,
    Inbox,
    Keyword,
    Message,
    StoredFile,
)


async def list_messages(
    session: AsyncSession, contact: Contact, cursor: str | None, per_page: int
) -> CursorPage[MessageOut]:
    """Newest first; the cursor is the id of the last message of the previous page."""
    stmt = select(Message).where(
        Message.workspace_id == contact.workspace_id, Message.contact_id == contact.id
    )
    return await newest_first(session, stmt, cursor, per_page)


async def newest_first(
    session: AsyncSession, stmt: Select[Message], cursor: str | None, per_page: int
) -> CursorPage[MessageOut]:
    """One page of `stmt`'s messages, newest first; the cursor is the id of the previous page's last one."""
    before = decode_cursor(cursor)
    if before is not None:
        stmt = stmt.where(Message.id < before)
    rows = list((await session.execute(stmt.order_by(Message.id.desc()).limit(per_page + 1))).scalars())
    next_cursor = encode_cursor(rows[per_page - 1].id) if len(rows) > per_page else None
    data = [MessageOut.model_validate(row) for row in rows[:per_page]]
    return CursorPage[MessageOut](data=data, nextCursor=next_cursor)


async def get_message(session: AsyncSession, contact: Contact, message_id: str) -> Message:
    parsed = parse_id(message_id)
    message = None
    if parsed is not None:
        message = await session.scalar(
            select(Message).where(
                Message.id == parsed,
                Message.workspace_id == contact.workspace_id,
                Message.contact_id == contact.id,
            )
        )
    if message is None:
        raise NotFound("Message not found.", resource="message")
    return message


def ensure_reachable(contact: Contact) -> None:
    if contact.blocked_at is not None:
        raise BusinessError("The contact is blocked; unblock it to send.", code="CONTACT_BLOCKED")


async def resolve_inbox(session: AsyncSession, contact: Contact, inbox_id: int | None) -> int:
    """The inbox to send on: the one given (of the workspace), else the latest conversation's, else the
    contact's only inbox; otherwise 400 NO_INBOX."""
    if inbox_id is not None:
        found = await session.scalar(
            select(Inbox.id).where(Inbox.id == inbox_id, Inbox.workspace_id == contact.workspace_id)
        )
        if found is None:
            raise NotFound("Inbox not found.", resource="inbox", inboxId=str(inbox_id))
        return found
    latest = await session.scalar(
        select(Conversation.inbox_id)
        .where(Conversation.contact_id == contact.id, Conversation.inbox_id.is_not(None))
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    if latest is not None:
        return latest
    inboxes = list(
        (
            await session.execute(
                select(ContactInbox.inbox_id).where(ContactInbox.contact_id == contact.id).distinct().limit(2)
            )
        ).scalars()
    )
    if len(inboxes) == 1:
        return inboxes[0]
    reason = "is on several inboxes" if inboxes else "has no conversation and no inbox"
    raise BusinessError(f"The contact {reason}; give inboxId.", code="NO_INBOX")


async def open_conversation(session: AsyncSession, contact: Contact, inbox_id: int) -> Conversation:
    """The contact's latest conversation on the inbox (reopened if resolved or snoozed), or a new one."""
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.contact_id == contact.id, Conversation.inbox_id == inbox_id)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    if conversation is None:
        conversation = Conversation(
            workspace_id=contact.workspace_id, contact_id=contact.id, inbox_id=inbox_id
        )
        session.add(conversation)
    if conversation.status in (None, "resolved", "snoozed"):
        conversation.status = "open"
        conversation.snoozed_until = None
    return conversation


async def queue_outgoing_message(
    session: AsyncSession,
    contact: Contact,
    inbox_id: int,
    *,
    content: str | None,
    attachments: Sequence[dict[str, Any]] = (),
    sender_type: str = "agent",
    sender_id: int | None = None,
    content_type: str = "text",
    content_attributes: dict[str, Any] | None = None,
) -> Message:
    """Store an outgoing message (status queued, due now) in the contact's open conversation on the inbox.

    Refused (400) when the channel would refuse it: an unreachable contact, or a free-form message outside the
    channel's 24-hour window (dispatcher.policy). The dispatcher is woken when the transaction commits."""
    ensure_reachable(contact)
    now = utcnow()
    await check_sendable(
        session,
        contact,
        inbox_id,
        content_type=content_type,
        content_attributes=content_attributes,
        now=now,
    )
    conversation = await open_conversation(session, contact, inbox_id)
    conversation.last_activity_at = now
    if sender_type == "agent":
        # A human writing takes a bot-handled (pending) conversation into the open queue.
        conversation.status = "open"
        conversation.admin_replied_at = now
    await session.flush()
    message = Message(
        workspace_id=contact.workspace_id,
        conversation_id=conversation.id,
        contact_id=contact.id,
        inbox_id=inbox_id,
        direction="outgoing",
        private=False,
        sender_type=sender_type,
        sender_id=sender_id,
        content_type=content_type,
        content=content,
        attachments=list(attachments),
        content_attributes=content_attributes or {},
        status="queued",
        next_attempt_at=now,
    )
    session.add(message)
    await session.flush()
    # Every outgoing message is announced once, whoever queued it (an agent's reply, the send API, a flow):
    # agents' streams and the webchat visitor see it before the dispatcher sends it.
    out = MessageOut.model_validate(message).model_dump(mode="json", by_alias=True)
    await events.publish(session, contact.workspace_id, events.MESSAGE_CREATED, out)
    notify_after_commit(session)
    return message


async def start_flow_run(
    session: AsyncSession,
    contact: Contact,
    flow_id: int,
    inbox_id: int,
    *,
    node_id: str | None = None,
    state: dict[str, Any] | None = None,
) -> FlowRun:
    """A pending run of the workspace's flow for the contact, due now (404 if the flow is not there)."""
    ensure_reachable(contact)
    found = await session.scalar(
        select(Flow.id).where(Flow.id == flow_id, Flow.workspace_id == contact.workspace_id)
    )
    if found is None:
        raise NotFound("Flow not found.", resource="flow", flowId=str(flow_id))
    run = FlowRun(
        workspace_id=contact.workspace_id,
        flow_id=flow_id,
        contact_id=contact.id,
        inbox_id=inbox_id,
        node_id=node_id,
        status="pending",
        state=state or {},
        resume_at=utcnow(),
    )
    session.add(run)
    await session.flush()
    return run


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def file_attachments(
    session: AsyncSession, workspace_id: int, refs: Sequence[str]
) -> list[dict[str, Any]]:
    """Attachments for file ids (uploaded files of the workspace, 404 naming unknown ones) and URLs."""
    ids: dict[int, str] = {}
    for index, ref in enumerate(refs):
        file_id = parse_id(ref)
        if file_id is not None:
            ids[file_id] = ref
        elif not _is_url(ref):
            raise invalid_field(f"files.{index}", "must be a file id or an http(s) URL")
    stored: dict[int, StoredFile] = {}
    if ids:
        rows = await session.execute(
            select(StoredFile).where(StoredFile.workspace_id == workspace_id, StoredFile.id.in_(ids))
        )
        stored = {row.id: row for row in rows.scalars()}
    missing = [ref for file_id, ref in ids.items() if file_id not in stored]
    if missing:
        raise NotFound(f"Files not found: {', '.join(missing)}.", resource="file", files=missing)
    attachments: list[dict[str, Any]] = []
    for ref in refs:
        file_id = parse_id(ref)
        if file_id is None:
            attachments.append({"url": ref})
            continue
        row = stored[file_id]
        attachments.append(
            {"fileId": str(row.id), "name": row.filename, "contentType": row.content_type, "size": row.size}
        )
    return attachments


async def send_message(session: AsyncSession, who: Principal, contact: Contact, body: MessageSend) -> None:
    """sendMessage: text and/or files as a queued message, or a flow (optionally from a node) as a run."""
    if body.flow_id is None:
        if body.node_id is not None:
            raise invalid_field("nodeId", "needs flowId")
        if body.text is None and not body.files:
            raise invalid_field("text", "give text, files or flowId")
    elif body.text is not None or body.files:
        raise invalid_field("flowId", "send either a flow or text and files, not both")
    ensure_reachable(contact)
    inbox_id = await resolve_inbox(session, contact, body.inbox_id)
    if body.flow_id is not None:
        await start_flow_run(session, contact, body.flow_id, inbox_id, node_id=body.node_id)
        return
    attachments = await file_attachments(session, contact.workspace_id, body.files or [])
    attributes: dict[str, Any] = {}
    if body.tag is not None:
        inbox = await session.get_one(Inbox, inbox_id)
        attributes["tag"] = body.tag
        check_tag(inbox.channel, attributes)
    if body.subject is not None:
        attributes["email"] = {"subject": body.subject}
    await queue_outgoing_message(
        session,
        contact,
        inbox_id,
        content=body.text,
        attachments=attachments,
        sender_id=who.member_id,
        content_attributes=attributes or None,
    )


async def send_flow(session: AsyncSession, contact: Contact, body: FlowSend) -> None:
    ensure_reachable(contact)
    inbox_id = await resolve_inbox(session, contact, body.inbox_id)
    await start_flow_run(session, contact, body.flow_id, inbox_id)


def _rule(keyword: Keyword) -> KeywordRule:
    return KeywordRule(
        id=keyword.id,
        phrases=tuple(keyword.phrases or ()),
        match_type=keyword.match_type,
        priority=keyword.priority,
        name=keyword.name,
        inbox_id=keyword.inbox_id,
    )


async def trigger_auto_reply(session: AsyncSession, contact: Contact, body: AutoReplyTrigger) -> None:
    """Queue the reply of the best keyword matching `body.keyword`: a bot message or a flow run."""
    ensure_reachable(contact)
    inbox_id = await resolve_inbox(session, contact, body.inbox_id)
    keywords = (
        await session.execute(
            select(Keyword).where(
                Keyword.workspace_id == contact.workspace_id,
                Keyword.active,
                (Keyword.inbox_id.is_(None)) | (Keyword.inbox_id == inbox_id),
            )
        )
    ).scalars()
    # A keyword that cannot reply (no text, or its flow was deleted) is not a candidate.
    usable = {
        k.id: k
        for k in keywords
        if (k.reply_type == "flow" and k.flow_id is not None) or (k.reply_type == "text" and k.reply_text)
    }
    rule = best_match(body.keyword, [_rule(k) for k in usable.values()], inbox_id)
    if rule is None:
        raise NotFound(
            f"No active keyword matches {body.keyword!r}.", code="KEYWORD_NOT_FOUND", keyword=body.keyword
        )
    keyword = usable[rule.id]
    if keyword.reply_type == "flow" and keyword.flow_id is not None:
        await start_flow_run(
            session, contact, keyword.flow_id, inbox_id, state={"keywordId": str(keyword.id)}
        )
        return
    await queue_outgoing_message(
        session,
        contact,
        inbox_id,
        content=keyword.reply_text,
        sender_type="bot",
        content_attributes={"keywordId": str(keyword.id)},
    )
