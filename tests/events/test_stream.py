"""GET /api/v1/events: live events, replay after Last-Event-ID, heartbeats, scoping, clean disconnects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chatbotx.events import service
from chatbotx.kit import db, events
from chatbotx.models import Event
from tests.conftest import Tenant
from tests.events.sse import Reader
from tests.inbound import testchan
from tests.inbound.testchan import make_inbox, message, post
from tests.polling import wait_for


@pytest.fixture(autouse=True)
def adapter() -> testchan.TestChanAdapter:
    return testchan.install()


@contextlib.asynccontextmanager
async def connect(
    live_url: str, token: str, headers: dict[str, str] | None = None, **params: Any
) -> AsyncIterator[Reader]:
    async with (
        httpx.AsyncClient(base_url=live_url, timeout=httpx.Timeout(10, read=20)) as client,
        client.stream(
            "GET",
            "/api/v1/events",
            params=params,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = Reader(response)
        hint = await reader.frame()  # the retry hint: sent once the live subscription is in place
        assert hint.event is None
        yield reader


async def publish(workspace_id: int | str, n: int, type: str = "contact.updated") -> list[int]:
    ids = []
    for i in range(n):
        async with db.get_database().sessionmaker() as session:
            event = await events.publish(session, int(workspace_id), type, {"n": i})
            await db.commit(session)
        ids.append(event.id)
    return ids


async def stored_ids(workspace_id: int | str) -> list[int]:
    async with db.get_database().sessionmaker() as session:
        rows = await session.execute(
            select(Event.id).where(Event.workspace_id == int(workspace_id)).order_by(Event.id)
        )
        return [r[0] for r in rows]


async def test_live_events_from_the_pipeline(tenant: Tenant, anon: httpx.AsyncClient, live_url: str) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    async with connect(live_url, tenant.token) as stream:
        assert (
            await post(anon, inbox, {"messages": [message("sse-1", "Hi SSE", firstName="Ann")]})
        ).status_code == 200
        frames = await stream.events(3)
    assert [f.event for f in frames] == ["contact.created", "conversation.created", "message.created"]
    assert frames[0].data["firstName"] == "Ann"
    assert frames[2].data["content"] == "Hi SSE" and frames[2].data["direction"] == "incoming"
    assert [f.id for f in frames] == await stored_ids(tenant.workspace_id)


@pytest.mark.parametrize("how", ["header", "query"])
async def test_replay_after_last_event_id_then_live(tenant: Tenant, live_url: str, how: str) -> None:
    ids = await publish(tenant.workspace_id, 5)
    resume = {"headers": {"Last-Event-ID": str(ids[1])}} if how == "header" else {"lastEventId": str(ids[1])}
    async with connect(live_url, tenant.token, **resume) as stream:
        replayed = await stream.events(3)
        assert [f.id for f in replayed] == ids[2:]
        assert [f.data["n"] for f in replayed] == [2, 3, 4]
        live = await publish(tenant.workspace_id, 2, "message.updated")
        frames = await stream.events(2)
    assert [(f.id, f.event) for f in frames] == [(i, "message.updated") for i in live]


async def test_last_event_id_zero_replays_everything(tenant: Tenant, live_url: str) -> None:
    ids = await publish(tenant.workspace_id, 3)
    async with connect(live_url, tenant.token, lastEventId="0") as stream:
        assert [f.id for f in await stream.events(3)] == ids


async def test_no_event_lost_or_repeated_while_replaying(
    tenant: Tenant, live_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "REPLAY_PAGE", 7)  # many replay queries, interleaved with live publishes
    before = await publish(tenant.workspace_id, 60)
    during: list[int] = []

    async def keep_publishing() -> None:
        for _ in range(60):
            during.extend(await publish(tenant.workspace_id, 1))
            await asyncio.sleep(0)

    async with connect(live_url, tenant.token, lastEventId=str(before[0])) as stream:
        publisher = asyncio.create_task(keep_publishing())
        frames = await stream.events(59 + 60, limit=20)
        await publisher
        # Nothing more is pending: the next event is a fresh one.
        (marker,) = await publish(tenant.workspace_id, 1, "message.created")
        (next_frame,) = await stream.events(1)
    received = [f.id for f in frames]
    assert len(received) == len(set(received))
    assert set(received) == set(before[1:]) | set(during)
    assert next_frame.id == marker


async def test_streams_are_scoped_to_the_workspace(
    tenant: Tenant, other_tenant: Tenant, live_url: str
) -> None:
    async with connect(live_url, other_tenant.token) as other_stream:
        await publish(tenant.workspace_id, 3)
        (mine,) = await publish(other_tenant.workspace_id, 1)
        (first,) = await other_stream.events(1)
    assert first.id == mine


async def test_heartbeat_comments(tenant: Tenant, live_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "HEARTBEAT_SECONDS", 0.05)
    async with connect(live_url, tenant.token) as stream:
        frame = await stream.frame()
    assert frame.comment == "heartbeat" and frame.event is None


async def test_disconnect_unsubscribes(tenant: Tenant, live_url: str) -> None:
    workspace_id = int(tenant.workspace_id)
    async with connect(live_url, tenant.token):
        assert events.bus.queues.get(workspace_id)

    async def gone() -> bool:
        return not events.bus.queues.get(workspace_id)

    await wait_for(gone)


async def test_needs_a_token_and_a_valid_event_id(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/api/v1/events")).status_code == 401
    bad = await tenant.client.get("/api/v1/events", params={"lastEventId": "abc"})
    assert bad.status_code == 422 and bad.json()["code"] == "INVALID_REQUEST_DATA"
    bad = await tenant.client.get("/api/v1/events", headers={"Last-Event-ID": "-5"})
    assert bad.status_code == 422


async def test_operation_is_documented(anon: httpx.AsyncClient) -> None:
    spec = (await anon.get("/api/openapi.json")).json()
    operation = spec["paths"]["/api/v1/events"]["get"]
    assert operation["operationId"] == "streamEvents" and operation["x-cli-name"] == "events stream"
    assert "text/event-stream" in operation["responses"]["200"]["content"]


async def test_a_full_queue_is_marked_and_the_stream_catches_up(tenant: Tenant) -> None:
    workspace_id = int(tenant.workspace_id)
    queue = events.bus.subscribe(workspace_id, maxsize=2)
    try:
        await publish(workspace_id, 3)
        assert queue.full() and queue.dropped
    finally:
        events.unsubscribe(workspace_id, queue)


async def test_an_overflow_before_anything_was_sent_catches_up_from_the_start_not_the_history(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream without Last-Event-ID whose live queue overflows before it sent an event re-reads the table
    from when it started: every new event once, none of the workspace's older history."""
    workspace_id = int(tenant.workspace_id)
    history = await publish(workspace_id, 3)
    monkeypatch.setattr(service, "CATCH_UP_MARGIN", 50 << 22)  # 50 ms of ids
    await asyncio.sleep(0.1)  # the history is older than the margin
    subscribe = events.subscribe

    async def small_queue(workspace: int, maxsize: int = 1000) -> events.EventQueue:
        return await subscribe(workspace, maxsize=2)

    monkeypatch.setattr(events, "subscribe", small_queue)
    stream = service.stream(workspace_id, None)
    try:
        assert await anext(stream) == b"retry: 3000\n\n"  # subscribed
        new = await publish(workspace_id, 5)  # the queue holds 2: it overflows
        received = [await asyncio.wait_for(anext(stream), 10) for _ in new]
    finally:
        await stream.aclose()
    ids = [int(chunk.split(b"\n", 1)[0].removeprefix(b"id: ")) for chunk in received]
    assert sorted(ids) == sorted(new)
    assert not set(ids) & set(history)
