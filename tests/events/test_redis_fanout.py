"""Scale-out: events published in one process reach SSE listeners in another through Redis pub/sub."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import httpx
import pytest

from chatbotx.kit import db, events
from chatbotx.kit.db import utcnow
from chatbotx.kit.ids import new_id
from tests.conftest import Tenant
from tests.events.sse import Reader

REDIS_URL = os.environ.get("CHATBOTX_TEST_REDIS_URL")
pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not REDIS_URL, reason="CHATBOTX_TEST_REDIS_URL is not set"),
]


@pytest.fixture
async def two_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[events.RedisFanout, events.RedisFanout]]:
    """`here` feeds this process's bus (as with CHATBOTX_REDIS_URL set); `there` is another process's
    fan-out, with its own bus and connection."""
    assert REDIS_URL
    here = events.RedisFanout(REDIS_URL, events.bus)
    there = events.RedisFanout(REDIS_URL, events.Bus())
    monkeypatch.setattr(events, "fanout", lambda: here)
    yield here, there
    await here.close()
    await there.close()


def event(workspace_id: int, n: int) -> events.PublishedEvent:
    return events.PublishedEvent(new_id(), workspace_id, "message.created", {"n": n}, utcnow())


async def test_an_event_published_elsewhere_reaches_a_local_listener(
    two_processes: tuple[events.RedisFanout, events.RedisFanout],
) -> None:
    _here, there = two_processes
    queue = await events.subscribe(4242)
    try:
        sent = event(4242, 1)
        await there.publish([sent])
        await there.publish([event(4243, 2)])  # another workspace: not for this listener
        received = await asyncio.wait_for(queue.get(), 10)
        assert received == sent
    finally:
        events.unsubscribe(4242, queue)


async def test_sse_client_hears_another_process(
    tenant: Tenant, live_url: str, two_processes: tuple[events.RedisFanout, events.RedisFanout]
) -> None:
    _here, there = two_processes
    workspace_id = int(tenant.workspace_id)
    async with (
        httpx.AsyncClient(base_url=live_url, timeout=httpx.Timeout(10, read=20)) as client,
        client.stream(
            "GET", "/api/v1/events", headers={"Authorization": f"Bearer {tenant.token}"}
        ) as response,
    ):
        reader = Reader(response)
        await reader.frame()  # subscribed (Redis subscription confirmed before the stream starts)
        published = [event(workspace_id, n) for n in range(3)]
        for item in published:
            await there.publish([item])
        frames = await reader.events(3)
    assert [(f.id, f.data) for f in frames] == [(e.id, e.payload) for e in published]


async def test_publish_goes_through_redis_when_configured(
    tenant: Tenant, two_processes: tuple[events.RedisFanout, events.RedisFanout]
) -> None:
    """A local commit's event arrives once, by way of Redis (not also delivered directly)."""
    _here, there = two_processes
    workspace_id = int(tenant.workspace_id)
    queue = await events.subscribe(workspace_id)
    elsewhere = there.bus.subscribe(workspace_id)
    await there.listening()
    try:
        async with db.get_database().sessionmaker() as session:
            published = await events.publish(session, workspace_id, "contact.updated", {"x": 1})
            await db.commit(session)
        assert (await asyncio.wait_for(elsewhere.get(), 10)).id == published.id  # the other process heard it
        assert (await asyncio.wait_for(queue.get(), 10)).id == published.id
        marker = event(workspace_id, 99)
        await there.publish([marker])
        assert (await asyncio.wait_for(queue.get(), 10)).id == marker.id  # no second copy in between
    finally:
        events.unsubscribe(workspace_id, queue)
        there.bus.unsubscribe(workspace_id, elsewhere)


async def test_a_stalled_redis_fails_the_subscription_in_bounded_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Redis that accepts the connection but never answers: listening() raises instead of hanging (a
    realtime client's connect fails and its EventSource retries), and close() returns."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # reads nothing, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(events, "SUBSCRIBE_TIMEOUT_SECONDS", 0.3)
    fanout = events.RedisFanout(f"redis://127.0.0.1:{port}/0", events.Bus())
    try:
        async with asyncio.timeout(5):
            with pytest.raises(TimeoutError, match="did not confirm"):
                await fanout.listening()
            assert accepted  # it did connect: the timeout is the subscription's
            with pytest.raises(TimeoutError):  # and again, from a fresh listener
                await fanout.listening()
            await fanout.close()
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
