"""The visitor's realtime stream over a real HTTP server: agent replies and their delivery, agent typing,
status changes; never private notes, never another visitor's events; a wrong token refused; resuming after
Last-Event-ID. And the visitor's messages reach the agents' GET /api/v1/events."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chatbotx.webchat import realtime
from tests.events.sse import Reader
from tests.webchat.conftest import Webchat
from tests.webchat.test_endpoints import conversation, say, visitor


@contextlib.asynccontextmanager
async def stream(
    live_url: str, webchat: Webchat, contact: dict[str, Any], headers: dict[str, str] | None = None
) -> AsyncIterator[Reader]:
    url = f"{webchat.contact(contact['source_id'])}/events"
    async with (
        httpx.AsyncClient(base_url=live_url, timeout=httpx.Timeout(10, read=20)) as client,
        client.stream(
            "GET",
            url,
            params={"pubsub_token": contact["pubsub_token"]},
            headers={"Origin": "https://shop.example.com", **(headers or {})},
        ) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["access-control-allow-origin"] == "*"
        reader = Reader(response)
        hint = await reader.frame()  # sent once the live subscription is in place
        assert hint.event is None
        yield reader


async def test_agent_reply_reaches_the_visitor_not_notes_nor_others(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient, live_url: str
) -> None:
    me = await visitor(public, webchat)
    other = await visitor(public, webchat)
    conv = await conversation(public, webchat, me["source_id"])
    other_conv = await conversation(public, webchat, other["source_id"])
    async with stream(live_url, webchat, me) as reader:
        await say(public, webchat, other["source_id"], other_conv["id"], "not for you")
        await api.post(
            f"/api/v1/conversations/{other_conv['id']}/messages", json={"text": "not for you either"}
        )
        await api.post(f"/api/v1/conversations/{conv['id']}/notes", json={"text": "internal only"})
        await say(public, webchat, me["source_id"], conv["id"], "hello", echo_id="e-1")
        await api.post(f"/api/v1/conversations/{conv['id']}/messages", json={"text": "Hi! How can I help?"})
        frames = await reader.events(3)
        mine, reply, delivered = frames
        assert mine.event == "message.created"
        assert (
            mine.data["content"] == "hello"
            and mine.data["echo_id"] == "e-1"
            and mine.data["message_type"] == 0
        )
        assert reply.event == "message.created"
        assert reply.data["content"] == "Hi! How can I help?" and reply.data["message_type"] == 1
        assert reply.data["conversation_id"] == conv["id"] and reply.data["status"] == "queued"
        assert reply.data["sender"]["type"] == "user" and reply.data["sender"]["name"] == "Owner"
        # The dispatcher sends it through the webchat adapter (nothing to call) and marks it sent.
        assert delivered.event == "message.updated"
        assert delivered.data["id"] == reply.data["id"] and delivered.data["status"] == "sent"
        seen = {f.data.get("content") for f in frames}
        assert "internal only" not in seen and "not for you" not in seen

        # Agent typing, and the agent resolving the conversation.
        assert (
            await api.post(f"/api/v1/conversations/{conv['id']}/typing", json={"typing": True})
        ).status_code == 204
        typing = (await reader.events(1))[0]
        assert typing.event == "conversation.typing_on"
        assert typing.data == {"conversation_id": conv["id"], "typing": True}
        await api.post(f"/api/v1/conversations/{conv['id']}/status", json={"status": "resolved"})
        status = (await reader.events(1))[0]
        assert status.event == "conversation.status_changed"
        assert status.data["id"] == conv["id"] and status.data["status"] == "resolved"
        assert set(status.data) == {
            "id",
            "inbox_id",
            "status",
            "contact_last_seen_at",
            "agent_last_seen_at",
            "created_at",
            "last_activity_at",
            "messages",
        }


async def test_the_visitor_does_not_hear_its_own_typing(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient, live_url: str
) -> None:
    me = await visitor(public, webchat)
    conv = await conversation(public, webchat, me["source_id"])
    async with stream(live_url, webchat, me) as reader:
        url = webchat.conversation(me["source_id"], conv["id"])
        await public.post(f"{url}/toggle_typing", json={"typing_status": "on"})
        await api.post(f"/api/v1/conversations/{conv['id']}/typing", json={"typing": False})
        (only,) = await reader.events(1)
        assert only.event == "conversation.typing_off"


async def test_wrong_or_missing_token_is_refused(webchat: Webchat, public: httpx.AsyncClient) -> None:
    me = await visitor(public, webchat)
    other = await visitor(public, webchat)
    url = f"{webchat.contact(me['source_id'])}/events"
    for params in ({}, {"pubsub_token": other["pubsub_token"]}, {"pubsub_token": "x"}):
        response = await public.get(url, params=params)
        assert response.status_code == 401, params
        assert response.json()["code"] == "INVALID_PUBSUB_TOKEN"
    unknown = await public.get(
        f"{webchat.contact('nobody')}/events", params={"pubsub_token": me["pubsub_token"]}
    )
    assert unknown.status_code == 404


async def test_resume_after_last_event_id(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient, live_url: str
) -> None:
    me = await visitor(public, webchat)
    conv = await conversation(public, webchat, me["source_id"])
    async with stream(live_url, webchat, me) as reader:
        await say(public, webchat, me["source_id"], conv["id"], "first")
        (first,) = await reader.events(1)
    # While the visitor is away (a page load): an agent reply and a note.
    await api.post(f"/api/v1/conversations/{conv['id']}/notes", json={"text": "secret"})
    await api.post(f"/api/v1/conversations/{conv['id']}/messages", json={"text": "missed reply"})
    async with stream(live_url, webchat, me, headers={"Last-Event-ID": str(first.id)}) as reader:
        replayed = await reader.events(1)
        assert replayed[0].data["content"] == "missed reply" and replayed[0].id > first.id  # type: ignore[operator]


async def test_visitor_messages_reach_the_agents_stream(
    webchat: Webchat, public: httpx.AsyncClient, tenant: Any, live_url: str
) -> None:
    from tests.events.test_stream import connect

    me = await visitor(public, webchat)
    conv = await conversation(public, webchat, me["source_id"])
    async with connect(live_url, tenant.token) as reader:
        await say(public, webchat, me["source_id"], conv["id"], "agents, hear me")
        frames = await reader.events(2)
        created = next(f for f in frames if f.event == "message.created")
        assert created.data["content"] == "agents, hear me" and created.data["direction"] == "incoming"
        assert (
            created.data["conversationId"] == conv["id"] and created.data["inboxId"] == webchat.channel["id"]
        )


@pytest.mark.parametrize(
    ("payload", "visible"),
    [
        ({"conversationId": "1", "contactId": "7", "inboxId": "9", "typing": True}, True),
        ({"conversationId": "1", "contactId": "8", "inboxId": "9", "typing": True}, False),
        ({"conversationId": "1", "contactId": "7", "inboxId": "10", "typing": True}, False),
        ({"conversationId": "1", "contactId": "7", "inboxId": "9", "sender": {"type": "contact"}}, False),
        ({"contactId": "7", "inboxId": "9"}, False),
    ],
)
async def test_typing_events_are_narrowed(payload: dict[str, Any], visible: bool) -> None:
    audience = realtime.Audience(workspace_id=1, inbox_id=9, contact_id=7)
    data = await realtime.public_event(audience, "conversation.typing_on", payload)
    assert (data is not None) == visible


async def test_unknown_and_private_events_are_dropped() -> None:
    audience = realtime.Audience(workspace_id=1, inbox_id=9, contact_id=7)
    assert await realtime.public_event(audience, "contact.updated", {"id": "7"}) is None
    note = {"id": "5", "conversationId": "1", "contactId": "7", "inboxId": "9", "private": True}
    assert await realtime.public_event(audience, "message.created", note) is None


async def test_messages_sent_through_the_contacts_api_arrive_then_update(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient, live_url: str
) -> None:
    """sendMessage (like the bots' and flows' sends) announces the queued message, then the dispatcher's
    message.updated follows once it is sent."""
    me = await visitor(public, webchat)
    conv = await conversation(public, webchat, me["source_id"])
    async with stream(live_url, webchat, me) as reader:
        sent = await api.post(
            f"/api/v1/contacts/{me['id']}/messages",
            json={"text": "from the contacts API", "inboxId": webchat.channel["id"]},
        )
        assert sent.status_code == 204, sent.text
        created, updated = await reader.events(2)
        assert (created.event, updated.event) == ("message.created", "message.updated")
        assert created.data["id"] == updated.data["id"]
        assert created.data["content"] == "from the contacts API" and created.data["message_type"] == 1
        assert updated.data["conversation_id"] == conv["id"] and updated.data["status"] == "sent"
