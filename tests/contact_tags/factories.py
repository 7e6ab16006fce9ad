"""Rows for the contact-relations tests, inserted straight into the database of the current backend."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from chatbotx.kit import db
from chatbotx.models import (
    Contact,
    ContactInbox,
    Conversation,
    CustomField,
    Flow,
    Inbox,
    Keyword,
    Message,
    StoredFile,
    Tag,
)


async def _add(*rows: Any) -> None:
    async with db.get_database().sessionmaker() as session:
        session.add_all(rows)
        await db.commit(session)


async def make_contact(workspace_id: str | int, **values: Any) -> Contact:
    contact = Contact(workspace_id=int(workspace_id), **values)
    await _add(contact)
    return contact


async def make_tag(workspace_id: str | int, name: str, **values: Any) -> Tag:
    tag = Tag(workspace_id=int(workspace_id), name=name, **values)
    await _add(tag)
    return tag


async def make_field(workspace_id: str | int, name: str, type: str = "shortText") -> CustomField:
    field = CustomField(workspace_id=int(workspace_id), name=name, type=type)
    await _add(field)
    return field


async def make_inbox(workspace_id: str | int, name: str = "Telegram", channel: str = "telegram") -> Inbox:
    inbox = Inbox(workspace_id=int(workspace_id), name=name, channel=channel)
    await _add(inbox)
    return inbox


async def make_contact_inbox(contact: Contact, inbox: Inbox, source_id: str = "chat-1") -> ContactInbox:
    row = ContactInbox(contact_id=contact.id, inbox_id=inbox.id, source_id=source_id)
    await _add(row)
    return row


async def make_conversation(contact: Contact, inbox: Inbox | None, **values: Any) -> Conversation:
    conversation = Conversation(
        workspace_id=contact.workspace_id,
        contact_id=contact.id,
        inbox_id=inbox.id if inbox else None,
        **values,
    )
    await _add(conversation)
    return conversation


async def make_messages(conversation: Conversation, count: int) -> list[Message]:
    """`count` incoming messages, oldest first."""
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    messages = [
        Message(
            workspace_id=conversation.workspace_id,
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            inbox_id=conversation.inbox_id,
            direction="incoming",
            sender_type="contact",
            sender_id=conversation.contact_id,
            content=f"message {n}",
            status="delivered",
            created_at=start + dt.timedelta(seconds=n),
        )
        for n in range(count)
    ]
    await _add(*messages)
    return messages


async def make_flow(workspace_id: str | int, name: str = "Welcome") -> Flow:
    flow = Flow(workspace_id=int(workspace_id), name=name, status="published")
    await _add(flow)
    return flow


async def make_keyword(workspace_id: str | int, **values: Any) -> Keyword:
    keyword = Keyword(workspace_id=int(workspace_id), name=values.pop("name", "kw"), **values)
    await _add(keyword)
    return keyword


async def make_file(workspace_id: str | int, filename: str = "photo.jpg") -> StoredFile:
    stored = StoredFile(
        workspace_id=int(workspace_id),
        filename=filename,
        content_type="image/jpeg",
        size=1234,
        sha256="0" * 64,
        path=f"files/{filename}",
    )
    await _add(stored)
    return stored


async def rows(model: type[Any], *where: Any) -> list[Any]:
    """The rows of `model` matching `where`, read in a fresh session."""
    async with db.get_database().sessionmaker() as session:
        return list((await session.execute(select(model).where(*where))).scalars())
