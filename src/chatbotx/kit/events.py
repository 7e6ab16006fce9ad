"""Workspace events: written to the Event table in the caller's transaction, fanned out after commit.

The Event table is the record (realtime clients replay it after Last-Event-ID); the bus only wakes listeners.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.db import after_commit, utcnow
from chatbotx.kit.ids import new_id
from chatbotx.models import Event

# Event types (stable names; payloads are the API's camelCase objects).
MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
CONVERSATION_STATUS_CHANGED = "conversation.status_changed"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONTACT_CREATED = "contact.created"
CONTACT_UPDATED = "contact.updated"


@dataclasses.dataclass(frozen=True, slots=True)
class PublishedEvent:
    id: int
    workspace_id: int
    type: str
    payload: dict[str, Any]
    created_at: dt.datetime


class Bus:
    """In-process fan-out to subscribers, per workspace."""

    def __init__(self) -> None:
        self.queues: dict[int, set[asyncio.Queue[PublishedEvent]]] = defaultdict(set)

    def subscribe(self, workspace_id: int, maxsize: int = 1000) -> asyncio.Queue[PublishedEvent]:
        queue: asyncio.Queue[PublishedEvent] = asyncio.Queue(maxsize)
        self.queues[workspace_id].add(queue)
        return queue

    def unsubscribe(self, workspace_id: int, queue: asyncio.Queue[PublishedEvent]) -> None:
        self.queues[workspace_id].discard(queue)

    async def deliver(self, event: PublishedEvent) -> None:
        for queue in list(self.queues.get(event.workspace_id, ())):
            if queue.full():  # a slow listener catches up from the Event table
                continue
            queue.put_nowait(event)


bus = Bus()


async def publish(
    session: AsyncSession, workspace_id: int, type: str, payload: dict[str, Any]
) -> PublishedEvent:
    """Record an event in `session`'s transaction; listeners hear of it once the transaction commits."""
    event = PublishedEvent(new_id(), workspace_id, type, payload, utcnow())
    session.add(
        Event(id=event.id, workspace_id=workspace_id, type=type, payload=payload, created_at=event.created_at)
    )

    async def fan_out() -> None:
        await bus.deliver(event)

    after_commit(session, fan_out)
    return event
