"""Workspace events: written to the Event table in the caller's transaction, fanned out after commit.

The Event table is the record (realtime clients replay it after Last-Event-ID); the bus only wakes listeners.
With CHATBOTX_REDIS_URL set, events fan out through Redis pub/sub, so a listener in one process hears events
published by any other; without it the bus is in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

import orjson
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.db import after_commit, utcnow
from chatbotx.kit.ids import new_id
from chatbotx.models import Event
from chatbotx.settings import get_settings

log = logging.getLogger("chatbotx.events")
REDIS_CHANNEL_PREFIX = "chatbotx:events:"
# Redis must confirm a subscription (and accept a connection) within these, so that an unreachable or stalled
# Redis fails a realtime client's connect, which its EventSource retries, instead of leaving it hanging.
SUBSCRIBE_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0

# Event types (stable names; payloads are the API's camelCase objects).
MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
CONVERSATION_STATUS_CHANGED = "conversation.status_changed"
CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_TYPING_ON = "conversation.typing_on"  # an agent started typing (the webchat shows it)
CONVERSATION_TYPING_OFF = "conversation.typing_off"
CONTACT_CREATED = "contact.created"
CONTACT_UPDATED = "contact.updated"
CONTACT_DELETED = "contact.deleted"


@dataclasses.dataclass(frozen=True, slots=True)
class PublishedEvent:
    id: int
    workspace_id: int
    type: str
    payload: dict[str, Any]
    created_at: dt.datetime

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "workspaceId": self.workspace_id,
                "type": self.type,
                "payload": self.payload,
                "createdAt": self.created_at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> PublishedEvent:
        data = orjson.loads(raw)
        return cls(
            int(data["id"]),
            int(data["workspaceId"]),
            data["type"],
            data["payload"],
            dt.datetime.fromisoformat(data["createdAt"]),
        )


class EventQueue(asyncio.Queue[PublishedEvent]):
    """A subscriber's queue; `dropped` tells it that events were skipped while it was full."""

    dropped: bool = False


class Bus:
    """In-process fan-out to subscribers, per workspace."""

    def __init__(self) -> None:
        self.queues: dict[int, set[asyncio.Queue[PublishedEvent]]] = defaultdict(set)

    def subscribe(self, workspace_id: int, maxsize: int = 1000) -> EventQueue:
        queue = EventQueue(maxsize)
        self.queues[workspace_id].add(queue)
        return queue

    def unsubscribe(self, workspace_id: int, queue: asyncio.Queue[PublishedEvent]) -> None:
        listeners = self.queues.get(workspace_id)
        if listeners is not None:
            listeners.discard(queue)
            if not listeners:
                del self.queues[workspace_id]

    async def deliver(self, event: PublishedEvent) -> None:
        for queue in list(self.queues.get(event.workspace_id, ())):
            if queue.full():  # a slow listener catches up from the Event table
                if isinstance(queue, EventQueue):
                    queue.dropped = True
                continue
            queue.put_nowait(event)


class RedisFanout:
    """Events through Redis pub/sub: `publish` sends to every process; a listener task delivers what any
    process published to this process's bus."""

    def __init__(self, url: str, bus: Bus) -> None:
        self.url = url
        self.bus = bus
        self._client: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None

    def client(self) -> Any:
        if self._client is None:
            import redis.asyncio as redis

            # The connect timeout also bounds a disconnect (redis-py waits for the socket to close under it).
            self._client = redis.Redis.from_url(self.url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)
        return self._client

    async def publish(self, event: PublishedEvent) -> None:
        await self.client().publish(f"{REDIS_CHANNEL_PREFIX}{event.workspace_id}", event.to_json())

    async def listening(self) -> None:
        """Start the listener if needed and wait until Redis confirmed the subscription.

        Raises the listener's error, or TimeoutError when Redis has not confirmed within
        SUBSCRIBE_TIMEOUT_SECONDS (the stalled listener is stopped, so the next call starts afresh)."""
        if self._listener is None or self._listener.done():
            self._ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(self._ready))
        assert self._ready is not None
        listener = self._listener
        waiter = asyncio.ensure_future(self._ready.wait())
        done, _ = await asyncio.wait(
            {waiter, listener}, timeout=SUBSCRIBE_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter in done:
            return
        waiter.cancel()
        if listener in done:
            listener.result()  # raises the listener's error
            raise ConnectionError("the Redis event listener stopped before subscribing")
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
        raise TimeoutError(
            f"Redis did not confirm the event subscription within {SUBSCRIBE_TIMEOUT_SECONDS:g}s"
        )

    async def _listen(self, ready: asyncio.Event) -> None:
        pubsub = self.client().pubsub()
        try:
            await pubsub.psubscribe(f"{REDIS_CHANNEL_PREFIX}*")
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=None)
                if message is None:
                    continue
                if message["type"] == "psubscribe":
                    ready.set()
                elif message["type"] == "pmessage":
                    try:
                        event = PublishedEvent.from_json(message["data"])
                    except (ValueError, KeyError, TypeError):
                        log.warning("ignoring a malformed event on %s", message.get("channel"))
                        continue
                    await self.bus.deliver(event)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None


bus = Bus()
_fanout: RedisFanout | None = None


def fanout() -> RedisFanout | None:
    """The Redis fan-out of this process when CHATBOTX_REDIS_URL is set (created on first use)."""
    global _fanout
    url = get_settings().redis_url
    if not url:
        return None
    if _fanout is None or _fanout.url != url:
        _fanout = RedisFanout(url, bus)
    return _fanout


async def deliver(event: PublishedEvent) -> None:
    """Send a committed event to every listener: through Redis when configured, else in-process."""
    redis_fanout = fanout()
    if redis_fanout is not None:
        try:
            await redis_fanout.publish(event)
            return
        except Exception as exc:  # listeners elsewhere catch up from the Event table on reconnect
            log.warning("Redis publish failed (%s); delivering in-process only", exc)
    await bus.deliver(event)


async def subscribe(workspace_id: int, maxsize: int = 1000) -> EventQueue:
    """A queue of the workspace's events from now on (Redis subscription confirmed first when configured)."""
    redis_fanout = fanout()
    if redis_fanout is not None:
        await redis_fanout.listening()
    return bus.subscribe(workspace_id, maxsize)


def unsubscribe(workspace_id: int, queue: asyncio.Queue[PublishedEvent]) -> None:
    bus.unsubscribe(workspace_id, queue)


async def close() -> None:
    """Stop the Redis listener and close its connection (app shutdown)."""
    global _fanout
    if _fanout is not None:
        await _fanout.close()
        _fanout = None


async def publish(
    session: AsyncSession, workspace_id: int, type: str, payload: dict[str, Any]
) -> PublishedEvent:
    """Record an event in `session`'s transaction; listeners hear of it once the transaction commits."""
    event = PublishedEvent(new_id(), workspace_id, type, payload, utcnow())
    session.add(
        Event(id=event.id, workspace_id=workspace_id, type=type, payload=payload, created_at=event.created_at)
    )

    async def fan_out() -> None:
        await deliver(event)

    after_commit(session, fan_out)
    return event


async def publish_many(
    session: AsyncSession, workspace_id: int, items: Sequence[tuple[str, dict[str, Any]]]
) -> list[PublishedEvent]:
    """Record many (type, payload) events in one INSERT, in order (increasing ids); listeners hear of them
    in that order once the transaction commits. Same record and fan-out as `publish`, one statement."""
    now = utcnow()
    published = [PublishedEvent(new_id(), workspace_id, type, payload, now) for type, payload in items]
    if not published:
        return published
    await session.execute(
        insert(cast(Table, Event.__table__)),
        [
            {
                "id": e.id,
                "workspace_id": workspace_id,
                "type": e.type,
                "payload": e.payload,
                "created_at": now,
            }
            for e in published
        ],
    )

    async def fan_out() -> None:
        for event in published:
            await deliver(event)

    after_commit(session, fan_out)
    return published
