"""Several worker processes without Redis: events cross them through the database (PostgreSQL LISTEN/NOTIFY,
or each process tailing the SQLite file's Event table). Two fan-outs, each with its own bus, stand for two
processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from chatbotx.kit import db, events
from chatbotx.kit.db import utcnow
from chatbotx.settings import Settings
from tests.conftest import Tenant

Pair = tuple[events.ListenerFanout, events.ListenerFanout]


def _fanout(settings: Settings, bus: events.Bus) -> events.ListenerFanout:
    url = settings.effective_database_url
    if settings.is_sqlite:
        return events.SqliteTailFanout(make_url(url).database or "", bus, interval=0.01)
    return events.PostgresFanout(url, bus)


@pytest.fixture
async def two_processes(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Pair]:
    """`here` feeds this process's bus (as with CHATBOTX_WORKERS=2); `there` is another process's."""
    here, there = _fanout(settings, events.bus), _fanout(settings, events.Bus())
    monkeypatch.setattr(events, "fanout", lambda: here)
    yield here, there
    await here.close()
    await there.close()


async def _commit(
    workspace_id: int, items: list[tuple[str, dict[str, object]]]
) -> list[events.PublishedEvent]:
    async with db.get_database().sessionmaker() as session:
        published = await events.publish_many(session, workspace_id, items)
        await db.commit(session)
    return published


async def _received(queue: events.EventQueue, count: int) -> list[events.PublishedEvent]:
    return [await asyncio.wait_for(queue.get(), 10) for _ in range(count)]


@contextlib.asynccontextmanager
async def _elsewhere(there: events.ListenerFanout, workspace_id: int) -> AsyncIterator[events.EventQueue]:
    """A listener of the workspace in the other process."""
    await there.listening()
    queue = there.bus.subscribe(workspace_id)
    try:
        yield queue
    finally:
        there.bus.unsubscribe(workspace_id, queue)


async def test_committed_events_reach_every_process_once_in_order(
    tenant: Tenant, two_processes: Pair
) -> None:
    workspace_id = int(tenant.workspace_id)
    queue = await events.subscribe(workspace_id)
    try:
        async with _elsewhere(two_processes[1], workspace_id) as elsewhere:
            published = await _commit(workspace_id, [("contact.updated", {"n": n}) for n in range(5)])
            for listener in (queue, elsewhere):
                received = await _received(listener, 5)
                assert [(e.id, e.type, e.payload) for e in received] == [
                    (e.id, e.type, e.payload) for e in published
                ]
                assert [e.created_at for e in received] == [e.created_at for e in published]
        marker = (await _commit(workspace_id, [("contact.deleted", {"marker": True})]))[0]
        assert (await _received(queue, 1))[0].id == marker.id  # no second copy of the first five in between
    finally:
        events.unsubscribe(workspace_id, queue)


async def test_a_large_event_arrives_whole(tenant: Tenant, two_processes: Pair) -> None:
    """Over PostgreSQL's 8,000-byte NOTIFY limit the listener reads the event back from the table."""
    workspace_id = int(tenant.workspace_id)
    async with _elsewhere(two_processes[1], workspace_id) as elsewhere:
        big = {"text": "x" * 20_000}
        small = {"n": 1}
        published = await _commit(workspace_id, [("message.created", big), ("message.updated", small)])
        received = await _received(elsewhere, 2)
        assert [(e.id, e.payload) for e in received] == [(published[0].id, big), (published[1].id, small)]


async def test_a_rolled_back_event_is_never_delivered(tenant: Tenant, two_processes: Pair) -> None:
    workspace_id = int(tenant.workspace_id)
    async with _elsewhere(two_processes[1], workspace_id) as elsewhere:
        async with db.get_database().sessionmaker() as session:
            await events.publish_many(session, workspace_id, [("contact.updated", {"lost": True})])
            await session.flush()
            await session.rollback()
        kept = await _commit(workspace_id, [("contact.updated", {"kept": True})])
        assert [e.id for e in await _received(elsewhere, 1)] == [kept[0].id]


def test_notify_packets_stay_under_the_limit() -> None:
    now = utcnow()
    small = [events.PublishedEvent(n, 7, "contact.updated", {"n": n}, now) for n in range(1, 200)]
    big = events.PublishedEvent(999, 7, "message.created", {"text": "y" * 9_000}, now)
    packets = events.notify_packets([*small, big], limit=1_000)
    assert all(len(packet) < 1_000 for packet in packets)
    items = [item for packet in packets for item in orjson.loads(packet)]
    assert [item.get("id", item.get("ref")) for item in items] == [*range(1, 200), 999]
    assert items[-1] == {"ref": 999}  # too large on its own: a reference
    assert events.PublishedEvent.from_json(orjson.dumps(items[0])) == small[0]


class Flaky(events.ListenerFanout):
    """A listener whose connection breaks once, after subscribing."""

    def __init__(self, bus: events.Bus) -> None:
        super().__init__(bus)
        self.connections = 0

    async def _listen(self, ready: asyncio.Event) -> None:
        self.connections += 1
        self._subscribed(ready)
        if self.connections == 1:
            raise ConnectionError("connection lost")
        await asyncio.Future()


async def test_a_failed_listener_connects_again_and_its_subscribers_catch_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "RECONNECT_SECONDS", 0.01)
    fanout = Flaky(events.Bus())
    await fanout.listening()
    queue = fanout.bus.subscribe(1)
    try:
        async with asyncio.timeout(5):
            while fanout.connections < 2:  # noqa: ASYNC110 - the listener has no event to wait on
                await asyncio.sleep(0.01)
        assert queue.dropped  # told to read what it may have missed from the Event table
        await fanout.listening()  # the new subscription holds
    finally:
        await fanout.close()


@pytest.mark.postgres_only
async def test_the_postgres_listener_survives_a_lost_connection(
    settings: Settings, tenant: Tenant, two_processes: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "RECONNECT_SECONDS", 0.05)
    workspace_id = int(tenant.workspace_id)
    async with _elsewhere(two_processes[1], workspace_id) as elsewhere:
        async with db.get_database().engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
                )
            )
        assert killed == 1
        async with asyncio.timeout(10):
            while not elsewhere.dropped:  # noqa: ASYNC110 - set by the new subscription
                await asyncio.sleep(0.02)
        published = await _commit(workspace_id, [("contact.updated", {"after": "reconnect"})])
        assert [e.id for e in await _received(elsewhere, 1)] == [published[0].id]
