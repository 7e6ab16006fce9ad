"""Workspace events: written to the Event table in the caller's transaction, fanned out after commit.

The Event table is the record (realtime clients replay it after Last-Event-ID); the bus only wakes listeners.
With CHATBOTX_REDIS_URL set, events fan out through Redis pub/sub, so a listener in one process hears events
published by any other. Without Redis, several worker processes (`server start --workers`, CHATBOTX_WORKERS)
share them through the database: PostgreSQL LISTEN/NOTIFY, or each process tailing the SQLite file's Event
table. One process alone delivers on its in-process bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import Table, insert
from sqlalchemy.engine import make_url
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
PG_CHANNEL = "chatbotx_events"
NOTIFY_LIMIT = 7_900  # bytes: PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more
TAIL_INTERVAL = 0.025  # seconds between two checks for events committed by another process (SQLite)
RECONNECT_SECONDS = 1.0  # a failed listener's next try

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

    def catch_up(self) -> None:
        """Tell every subscriber it may have missed events: it reads them back from the Event table."""
        for listeners in self.queues.values():
            for queue in listeners:
                if isinstance(queue, EventQueue):
                    queue.dropped = True


class Fanout(Protocol):
    """Events across the processes serving one database: `publish` sends committed events to every process
    (this one too); a listener task delivers what any process published to this process's bus."""

    async def publish(self, events: Sequence[PublishedEvent]) -> None: ...

    async def listening(self) -> None: ...

    async def close(self) -> None: ...


class ListenerFanout:
    """The listener task shared by the fan-outs: started on the first subscription, confirmed before it, and
    connected again whenever it fails after that (the subscribers then catch up from the Event table)."""

    name = "event"

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._listener: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None

    async def _listen(self, ready: asyncio.Event) -> None:
        """Deliver events to `self.bus` until cancelled; call `self._subscribed(ready)` once nothing
        published from now on can be missed."""
        raise NotImplementedError

    def _subscribed(self, ready: asyncio.Event) -> None:
        """The subscription holds: subscribers from before it (of a listener that failed) may have missed
        events."""
        self.bus.catch_up()
        ready.set()

    async def _run(self, ready: asyncio.Event) -> None:
        """The listener; once it has subscribed, connected again after every failure, RECONNECT_SECONDS apart
        (new subscribers wait for the new subscription meanwhile)."""
        subscribed = False
        while True:
            try:
                await self._listen(ready)
                raise ConnectionError(f"the {self.name} listener stopped")
            except Exception as exc:
                subscribed = subscribed or ready.is_set()
                if not subscribed:
                    raise
                log.warning("the %s listener failed (%s); connecting again", self.name, exc)
            await asyncio.sleep(RECONNECT_SECONDS)
            ready = self._ready = asyncio.Event()

    async def listening(self) -> None:
        """Start the listener if needed and wait until it confirmed its subscription.

        Raises the listener's error, or TimeoutError when it has not confirmed within
        SUBSCRIBE_TIMEOUT_SECONDS (the stalled listener is stopped, so the next call starts afresh)."""
        if self._listener is None or self._listener.done():
            self._ready = asyncio.Event()
            self._listener = asyncio.create_task(self._run(self._ready))
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
            raise ConnectionError(f"the {self.name} listener stopped before subscribing")
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
        raise TimeoutError(
            f"the {self.name} listener did not confirm its subscription within {SUBSCRIBE_TIMEOUT_SECONDS:g}s"
        )

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None


class RedisFanout(ListenerFanout):
    """Events through Redis pub/sub (CHATBOTX_REDIS_URL): any number of processes, on any number of hosts."""

    name = "Redis event"

    def __init__(self, url: str, bus: Bus) -> None:
        super().__init__(bus)
        self.url = url
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            import redis.asyncio as redis

            # The connect timeout also bounds a disconnect (redis-py waits for the socket to close under it).
            self._client = redis.Redis.from_url(self.url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)
        return self._client

    async def publish(self, events: Sequence[PublishedEvent]) -> None:
        for event in events:
            await self.client().publish(f"{REDIS_CHANNEL_PREFIX}{event.workspace_id}", event.to_json())

    async def _listen(self, ready: asyncio.Event) -> None:
        pubsub = self.client().pubsub()
        try:
            await pubsub.psubscribe(f"{REDIS_CHANNEL_PREFIX}*")
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=None)
                if message is None:
                    continue
                if message["type"] == "psubscribe":
                    self._subscribed(ready)
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
        await super().close()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None


def notify_packets(events: Sequence[PublishedEvent], limit: int = NOTIFY_LIMIT) -> list[bytes]:
    """The NOTIFY payloads for `events`, in order: JSON lists of events, each list under `limit` bytes; an
    event too large on its own goes as {"ref": id}, which listeners read back from the Event table."""
    packets: list[bytes] = []
    items: list[bytes] = []
    size = 2
    for event in events:
        item = event.to_json()
        if len(item) + 2 > limit:
            item = orjson.dumps({"ref": event.id})
        if items and size + len(item) + 1 > limit:
            packets.append(b"[" + b",".join(items) + b"]")
            items, size = [], 2
        items.append(item)
        size += len(item) + 1
    if items:
        packets.append(b"[" + b",".join(items) + b"]")
    return packets


class PostgresFanout(ListenerFanout):
    """Events through PostgreSQL LISTEN/NOTIFY (several processes on one PostgreSQL database, no Redis).

    Each process holds two connections of its own (asyncpg, outside the pool): one LISTENs, one sends the
    NOTIFYs of committed events, a few events a statement (`notify_packets`)."""

    name = "PostgreSQL event"

    def __init__(self, url: str, bus: Bus) -> None:
        super().__init__(bus)
        self.url = url
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._sender: Any = None
        self._send_lock = asyncio.Lock()

    async def _connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT_SECONDS)

    async def publish(self, events: Sequence[PublishedEvent]) -> None:
        async with self._send_lock:
            try:
                if self._sender is None or self._sender.is_closed():
                    self._sender = await self._connect()
                for packet in notify_packets(events):
                    await self._sender.execute("SELECT pg_notify($1, $2)", PG_CHANNEL, packet.decode())
            except BaseException:
                await self._close_sender()  # the next publish connects afresh
                raise

    async def _listen(self, ready: asyncio.Event) -> None:
        conn = await self._connect()
        inbox: asyncio.Queue[str | None] = asyncio.Queue()
        try:
            conn.add_termination_listener(lambda _conn: inbox.put_nowait(None))
            await conn.add_listener(PG_CHANNEL, lambda _conn, _pid, _channel, data: inbox.put_nowait(data))
            self._subscribed(ready)
            while (data := await inbox.get()) is not None:
                for event in await self._read(conn, data):
                    await self.bus.deliver(event)
            raise ConnectionError("the PostgreSQL event listener's connection closed")
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=CONNECT_TIMEOUT_SECONDS)

    async def _read(self, conn: Any, data: str) -> list[PublishedEvent]:
        """The events of one NOTIFY payload, references read back from the Event table."""
        try:
            items = orjson.loads(data)
            refs = [int(item["ref"]) for item in items if "ref" in item]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed event notification")
            return []
        rows = {}
        if refs:
            found = await conn.fetch(
                "SELECT id, workspace_id, type, payload::text AS payload, created_at FROM event "
                "WHERE id = any($1::bigint[])",
                refs,
            )
            rows = {row["id"]: row for row in found}
        published = []
        for item in items:
            try:
                if "ref" not in item:
                    published.append(PublishedEvent.from_json(orjson.dumps(item)))
                elif (row := rows.get(int(item["ref"]))) is not None:
                    published.append(_event_from_row(*row))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed event in a notification")
        return published

    async def _close_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            with contextlib.suppress(Exception):
                await sender.close(timeout=CONNECT_TIMEOUT_SECONDS)

    async def close(self) -> None:
        await super().close()
        async with self._send_lock:
            await self._close_sender()


def _event_from_row(
    id: int, workspace_id: int, type: str, payload: str | bytes, created_at: dt.datetime | str
) -> PublishedEvent:
    if isinstance(created_at, str):  # SQLite keeps UTC datetimes as naive text
        created_at = dt.datetime.fromisoformat(created_at)
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=dt.UTC)
    return PublishedEvent(int(id), int(workspace_id), type, orjson.loads(payload), created_at)


class SqliteTailFanout(ListenerFanout):
    """Events between the processes sharing one SQLite file (`server start --workers N` on SQLite, no Redis).

    Publishing sends nothing: the committed Event rows are the message. Each process tails the table on a
    connection of its own, in commit order (its rowid: SQLite has one writer at a time, so a row inserted
    later commits later), woken by `PRAGMA data_version`, which changes when any other connection commits;
    checking it costs some 30 us, every TAIL_INTERVAL seconds."""

    name = "SQLite event"

    def __init__(self, path: str, bus: Bus, interval: float = TAIL_INTERVAL) -> None:
        super().__init__(bus)
        self.path = path
        self.interval = interval

    async def publish(self, events: Sequence[PublishedEvent]) -> None:
        return None

    async def _listen(self, ready: asyncio.Event) -> None:
        import sqlite3

        # Used by one task at a time: checks in the event loop's thread, reads in a worker thread.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=15000")
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            last = conn.execute("SELECT coalesce(max(rowid), 0) FROM event").fetchone()[0]
            self._subscribed(ready)
            while True:
                await asyncio.sleep(self.interval)
                try:
                    now = conn.execute("PRAGMA data_version").fetchone()[0]
                    if now == version:
                        continue
                    rows, last = await asyncio.to_thread(_tail, conn, last)
                    version = now
                except sqlite3.Error as exc:  # e.g. busy past the timeout: look again next time
                    log.warning("reading new events failed (%s); trying again", exc)
                    continue
                for row in rows:
                    await self.bus.deliver(_event_from_row(*row))
        finally:
            conn.close()


TAIL_PAGE = 1000


def _tail(conn: Any, last: int) -> tuple[list[Any], int]:
    """Event rows committed after rowid `last`, and the new `last`. (Rowids are reused only when the newest
    rows are deleted, with their workspace: then `last` comes back down to the largest rowid.)"""
    rows: list[Any] = []
    while True:
        page = conn.execute(
            "SELECT rowid, id, workspace_id, type, payload, created_at FROM event WHERE rowid > ? "
            "ORDER BY rowid LIMIT ?",
            (last, TAIL_PAGE),
        ).fetchall()
        rows.extend(row[1:] for row in page)
        if page:
            last = page[-1][0]
        if len(page) < TAIL_PAGE:
            break
    if not rows:
        last = min(last, conn.execute("SELECT coalesce(max(rowid), 0) FROM event").fetchone()[0])
    return rows, last


bus = Bus()
_fanout: Fanout | None = None
_fanout_key: tuple[str, str] | None = None


def _make_fanout(kind: str, url: str) -> Fanout:
    if kind == "redis":
        return RedisFanout(url, bus)
    if kind == "postgresql":
        return PostgresFanout(url, bus)
    return SqliteTailFanout(url, bus)


def _fanout_choice() -> tuple[str, str] | None:
    """(kind, url) of this process's fan-out: Redis when CHATBOTX_REDIS_URL is set; else, with several worker
    processes, the database's own (LISTEN/NOTIFY, or tailing a SQLite file); else none (in-process)."""
    settings = get_settings()
    if settings.redis_url:
        return "redis", settings.redis_url
    if settings.workers <= 1:
        return None
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "postgresql":
        return "postgresql", settings.effective_database_url
    if url.database and url.database != ":memory:":
        return "sqlite", url.database
    return None


def fanout() -> Fanout | None:
    """The fan-out of this process (created on first use), None when events stay in this process."""
    global _fanout, _fanout_key
    choice = _fanout_choice()
    if choice is None:
        return None
    if _fanout is None or _fanout_key != choice:
        _fanout, _fanout_key = _make_fanout(*choice), choice
    return _fanout


async def deliver(events: Sequence[PublishedEvent]) -> None:
    """Send committed events to every listener: through the fan-out when there is one, else in-process."""
    shared = fanout()
    if shared is not None:
        try:
            await shared.publish(events)
            return
        except Exception as exc:  # listeners elsewhere catch up from the Event table on reconnect
            log.warning("publishing events failed (%s); delivering in-process only", exc)
    for event in events:
        await bus.deliver(event)


async def subscribe(workspace_id: int, maxsize: int = 1000) -> EventQueue:
    """A queue of the workspace's events from now on (the fan-out's subscription confirmed first)."""
    shared = fanout()
    if shared is not None:
        await shared.listening()
    return bus.subscribe(workspace_id, maxsize)


def unsubscribe(workspace_id: int, queue: asyncio.Queue[PublishedEvent]) -> None:
    bus.unsubscribe(workspace_id, queue)


async def close() -> None:
    """Stop the fan-out's listener and close its connections (app shutdown)."""
    global _fanout, _fanout_key
    if _fanout is not None:
        await _fanout.close()
        _fanout, _fanout_key = None, None


async def publish(
    session: AsyncSession, workspace_id: int, type: str, payload: dict[str, Any]
) -> PublishedEvent:
    """Record an event in `session`'s transaction; listeners hear of it once the transaction commits."""
    event = PublishedEvent(new_id(), workspace_id, type, payload, utcnow())
    session.add(
        Event(id=event.id, workspace_id=workspace_id, type=type, payload=payload, created_at=event.created_at)
    )

    async def fan_out() -> None:
        await deliver((event,))

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
        await deliver(published)

    after_commit(session, fan_out)
    return published
