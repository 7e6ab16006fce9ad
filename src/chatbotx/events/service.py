"""The SSE stream: replay from the Event table after Last-Event-ID, then live events from the bus.

The bus subscription starts before the replay query, so an event committed meanwhile is either in the replay
or in the queue (or both: ids already sent are skipped), never lost. Ids are time-ordered, not commit-ordered,
so a live event may carry an id below the last one sent; it is still sent once.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Any

import orjson
from sqlalchemy import select

from chatbotx.kit import events
from chatbotx.kit.db import get_database
from chatbotx.kit.ids import new_id
from chatbotx.models import Event

HEARTBEAT_SECONDS = 15.0
REPLAY_PAGE = 500
RECENT_IDS = 10_000
# After the live queue overflowed, re-read events from this far (in id space, ~5 s) before the last one sent.
CATCH_UP_MARGIN = 5000 << 22


def frame(event_id: int, type: str, payload: Any) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, type.encode(), orjson.dumps(payload))


class Sent:
    """Where a stream stands: the ids sent lately (bounded), so replay and live delivery never send one event
    twice, and the newest event id seen, from which an overflowed live queue is caught up from the table."""

    def __init__(self, start: int, size: int = RECENT_IDS) -> None:
        self.order: collections.deque[int] = collections.deque()
        self.ids: set[int] = set()
        self.size = size
        self.highest = start

    def seen(self, event_id: int) -> None:
        """An event went by (sent or not: a narrowed stream skips others' events)."""
        self.highest = max(self.highest, event_id)

    def add(self, event_id: int) -> bool:
        """Record `event_id` as sent; False when it was sent already."""
        self.seen(event_id)
        if event_id in self.ids:
            return False
        self.ids.add(event_id)
        self.order.append(event_id)
        if len(self.order) > self.size:
            self.ids.discard(self.order.popleft())
        return True

    def catch_up_from(self) -> int:
        """The id to re-read the table after, once the live queue overflowed: a margin before the newest seen,
        since ids are time-ordered and a later commit may carry a slightly lower id."""
        return max(self.highest - CATCH_UP_MARGIN, 0)


def start_of(last_event_id: int | None) -> int:
    """Where a stream starts: after Last-Event-ID, else now (taken after subscribing, so a stream that
    overflows before it sent anything catches up from its start, not from the workspace's first event)."""
    return last_event_id if last_event_id is not None else new_id()


async def replay(workspace_id: int, after: int, sent: Sent) -> AsyncIterator[bytes]:
    """The workspace's stored events with id > `after`, oldest first, in pages."""
    while True:
        async with get_database().sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Event.id, Event.type, Event.payload)
                    .where(Event.workspace_id == workspace_id, Event.id > after)
                    .order_by(Event.id)
                    .limit(REPLAY_PAGE)
                )
            ).all()
        for row in rows:
            if sent.add(row.id):
                yield frame(row.id, row.type, row.payload)
        if len(rows) < REPLAY_PAGE:
            return
        after = rows[-1].id


async def stream(workspace_id: int, last_event_id: int | None) -> AsyncIterator[bytes]:
    queue = await events.subscribe(workspace_id)
    sent = Sent(start_of(last_event_id))
    try:
        yield b"retry: 3000\n\n"
        if last_event_id is not None:
            async for chunk in replay(workspace_id, last_event_id, sent):
                yield chunk
        while True:
            if queue.dropped:
                # Events were skipped while we were slow: read them back from the table.
                queue.dropped = False
                async for chunk in replay(workspace_id, sent.catch_up_from(), sent):
                    yield chunk
            try:
                event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if sent.add(event.id):
                yield frame(event.id, event.type, event.payload)
    finally:
        events.unsubscribe(workspace_id, queue)
