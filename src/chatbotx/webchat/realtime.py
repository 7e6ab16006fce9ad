"""A visitor's realtime stream (Server-Sent Events): the workspace's events, narrowed to this visitor's
conversations on this inbox and turned into the public shapes; private notes never.

Same guarantees as the agents' stream (chatbotx.events.service): the bus subscription starts before the replay
after Last-Event-ID, ids already sent are skipped, a listener that fell behind re-reads the Event table.
The replay reads at most REPLAY_LIMIT workspace events (a visitor back after a long time reloads its
messages through the API instead, as the widget does on every page load).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from chatbotx.events.service import HEARTBEAT_SECONDS, REPLAY_PAGE, Sent, frame, start_of
from chatbotx.kit import events
from chatbotx.kit.db import get_database
from chatbotx.models import Conversation, Event
from chatbotx.webchat.public import agent_id, public_conversation_event, public_message
from chatbotx.webchat.service import TYPING_OFF, TYPING_ON, agent_names

REPLAY_LIMIT = 5000
MESSAGE_EVENTS = (events.MESSAGE_CREATED, events.MESSAGE_UPDATED)
EVENT_TYPES = frozenset({*MESSAGE_EVENTS, events.CONVERSATION_STATUS_CHANGED, TYPING_ON, TYPING_OFF})


@dataclasses.dataclass(slots=True)
class Audience:
    """Whose events a stream carries: one contact's conversations on one inbox."""

    workspace_id: int
    inbox_id: int
    contact_id: int
    # Conversation ids known to be (True) or not to be (False) this visitor's, for typing events that name
    # only a conversation.
    known: dict[int, bool] = dataclasses.field(default_factory=dict)
    names: dict[int, str | None] = dataclasses.field(default_factory=dict)  # agents' names by member id


def _id(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _contact_of(payload: dict[str, Any]) -> int | None:
    contact = payload.get("contact")
    if isinstance(contact, dict):
        return _id(contact.get("id"))
    return _id(payload.get("contactId"))


def _conversation_of(payload: dict[str, Any]) -> int | None:
    conversation = payload.get("conversation")
    if isinstance(conversation, dict):
        return _id(conversation.get("id"))
    return _id(payload.get("conversationId"))


async def _owns(audience: Audience, conversation_id: int) -> bool:
    known = audience.known.get(conversation_id)
    if known is None:
        async with get_database().sessionmaker() as session:
            found = await session.scalar(
                select(Conversation.id).where(
                    Conversation.id == conversation_id,
                    Conversation.inbox_id == audience.inbox_id,
                    Conversation.contact_id == audience.contact_id,
                )
            )
        known = audience.known[conversation_id] = found is not None
    return known


async def public_event(audience: Audience, type: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The event's public data for this visitor, or None when it is not theirs to see."""
    if type not in EVENT_TYPES or not isinstance(payload, dict):
        return None
    data: BaseModel | dict[str, Any]
    if type in MESSAGE_EVENTS:
        if payload.get("private") or _id(payload.get("inboxId")) != audience.inbox_id:
            return None
        if _id(payload.get("contactId")) != audience.contact_id:
            return None
        conversation_id = _id(payload.get("conversationId"))
        if conversation_id is not None:
            audience.known[conversation_id] = True
        member = agent_id(payload)
        if member is not None and member not in audience.names:
            async with get_database().sessionmaker() as session:
                audience.names.update(await agent_names(session, audience.workspace_id, [payload]))
            audience.names.setdefault(member, None)
        data = public_message(payload, audience.names)
    elif type == events.CONVERSATION_STATUS_CHANGED:
        if _id(payload.get("inboxId")) != audience.inbox_id or _contact_of(payload) != audience.contact_id:
            return None
        data = public_conversation_event(payload)
    else:  # typing: the agents' typing in this visitor's conversation (not the visitor's own)
        conversation_id = _conversation_of(payload)
        sender = payload.get("sender")
        if conversation_id is None or payload.get("isPrivate"):
            return None
        if isinstance(sender, dict) and sender.get("type") == "contact":
            return None
        if "contactId" in payload or "inboxId" in payload:
            mine = (
                _id(payload.get("contactId")) == audience.contact_id
                and _id(payload.get("inboxId")) == audience.inbox_id
            )
        else:
            mine = await _owns(audience, conversation_id)
        if not mine:
            return None
        data = {"conversation_id": str(conversation_id), "typing": type == TYPING_ON}
    return data.model_dump(mode="json") if isinstance(data, BaseModel) else data


async def replay(audience: Audience, after: int, sent: Sent) -> AsyncIterator[bytes]:
    """This visitor's stored events with id > `after`, oldest first (at most REPLAY_LIMIT rows read)."""
    read = 0
    while read < REPLAY_LIMIT:
        async with get_database().sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Event.id, Event.type, Event.payload)
                    .where(
                        Event.workspace_id == audience.workspace_id,
                        Event.id > after,
                        Event.type.in_(sorted(EVENT_TYPES)),
                    )
                    .order_by(Event.id)
                    .limit(REPLAY_PAGE)
                )
            ).all()
        read += len(rows)
        for row in rows:
            data = await public_event(audience, row.type, row.payload)
            if data is not None and sent.add(row.id):
                yield frame(row.id, row.type, data)
        if len(rows) < REPLAY_PAGE:
            return
        after = rows[-1].id


async def stream(audience: Audience, last_event_id: int | None) -> AsyncIterator[bytes]:
    queue = await events.subscribe(audience.workspace_id)
    sent = Sent(start_of(last_event_id))  # "seen" counts every workspace event, this visitor's or not
    try:
        yield b"retry: 3000\n\n"
        if last_event_id is not None:
            async for chunk in replay(audience, last_event_id, sent):
                yield chunk
        while True:
            if queue.dropped:
                queue.dropped = False
                async for chunk in replay(audience, sent.catch_up_from(), sent):
                    yield chunk
            try:
                event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            sent.seen(event.id)
            data = await public_event(audience, event.type, event.payload)
            if data is not None and sent.add(event.id):
                yield frame(event.id, event.type, data)
    finally:
        events.unsubscribe(audience.workspace_id, queue)
