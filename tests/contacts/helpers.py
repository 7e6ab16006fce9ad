"""Rows inserted straight into the database for contact tests (inboxes, conversations, tags, fields, runs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chatbotx.kit import db
from chatbotx.models import (
    Contact,
    ContactCustomField,
    ContactInbox,
    ContactNote,
    ContactTag,
    Conversation,
    CustomField,
    Flow,
    FlowRun,
    Inbox,
    Tag,
    Team,
    User,
)


async def add(*rows: Any) -> list[Any]:
    """Insert `rows` (flushing in order) and commit; returns them with their ids."""
    async with db.get_database().sessionmaker() as session:
        for row in rows:
            session.add(row)
            await session.flush()
        await db.commit(session)
    return list(rows)


async def contact(workspace_id: str | int, **values: Any) -> Contact:
    first, last = values.get("first_name"), values.get("last_name")
    values.setdefault("full_name", " ".join(p for p in (first, last) if p) or None)
    (row,) = await add(Contact(workspace_id=int(workspace_id), **values))
    return row


async def inbox(workspace_id: str | int, channel: str = "telegram", name: str | None = None) -> Inbox:
    (row,) = await add(
        Inbox(
            workspace_id=int(workspace_id), name=name or f"{channel} inbox", channel=channel, source_id="bot1"
        )
    )
    return row


async def contact_inbox(contact_id: int, inbox_id: int, source_id: str = "chat-1") -> ContactInbox:
    (row,) = await add(ContactInbox(contact_id=contact_id, inbox_id=inbox_id, source_id=source_id))
    return row


async def tag(workspace_id: str | int, name: str, *contact_ids: int) -> Tag:
    (row,) = await add(Tag(workspace_id=int(workspace_id), name=name))
    await add(*(ContactTag(contact_id=c, tag_id=row.id) for c in contact_ids))
    return row


async def custom_field(workspace_id: str | int, name: str, type_: str) -> CustomField:
    (row,) = await add(CustomField(workspace_id=int(workspace_id), name=name, type=type_))
    return row


async def field_value(contact_id: int, field_id: int, value: str | None) -> ContactCustomField:
    (row,) = await add(ContactCustomField(contact_id=contact_id, custom_field_id=field_id, value=value))
    return row


async def note(contact_id: int, text: str) -> ContactNote:
    (row,) = await add(ContactNote(contact_id=contact_id, text=text))
    return row


async def conversation(workspace_id: str | int, contact_id: int, **values: Any) -> Conversation:
    (row,) = await add(Conversation(workspace_id=int(workspace_id), contact_id=contact_id, **values))
    return row


async def user(email: str, name: str = "Agent") -> User:
    (row,) = await add(User(email=email, name=name))
    return row


async def team(workspace_id: str | int, name: str) -> Team:
    (row,) = await add(Team(workspace_id=int(workspace_id), name=name))
    return row


async def flow_run(workspace_id: str | int, contact_id: int) -> Flow:
    (flow,) = await add(Flow(workspace_id=int(workspace_id), name="Welcome"))
    await add(FlowRun(workspace_id=int(workspace_id), flow_id=flow.id, contact_id=contact_id, status="done"))
    return flow


def ago(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)
