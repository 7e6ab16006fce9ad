"""Conversation management: get, messages, reply, notes, assignment, status, bot, read, follow, events."""

from __future__ import annotations

import datetime as dt
import inspect
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import and_, func, or_, select

from chatbotx.conversations import service
from chatbotx.kit import db
from chatbotx.messages import service as messages_service
from chatbotx.models import ContactInbox, Conversation, Event, Member, Message, Team, TeamMember, User
from chatbotx.workspaces.service import create_token
from tests.conftest import Tenant
from tests.contact_tags.factories import (
    make_contact,
    make_contact_inbox,
    make_conversation,
    make_file,
    make_inbox,
    make_messages,
    rows,
)
from tests.lists.rows import insert

FUTURE = "2100-01-01T00:00:00Z"


def url(conversation: Conversation | int | str, what: str = "") -> str:
    cid = conversation.id if isinstance(conversation, Conversation) else conversation
    return f"/api/v1/conversations/{cid}" + (f"/{what}" if what else "")


async def setup(tenant: Tenant, **values: Any) -> Conversation:
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id, first_name="Ann")
    await make_contact_inbox(contact, inbox)
    return await make_conversation(contact, inbox, **values)


async def reload(conversation: Conversation) -> Conversation:
    (row,) = await rows(Conversation, Conversation.id == conversation.id)
    return row


async def events_of(workspace_id: str | int) -> list[tuple[str, dict[str, Any]]]:
    found = await rows(Event, Event.workspace_id == int(workspace_id))
    return [(e.type, e.payload) for e in sorted(found, key=lambda e: e.id)]


async def types_of(workspace_id: str | int) -> list[str]:
    return [t for t, _ in await events_of(workspace_id)]


async def make_member(workspace_id: str | int) -> Member:
    user = User(email=f"agent-{uuid.uuid4().hex}@example.com", name="Agent")
    await insert(user)
    member = Member(workspace_id=int(workspace_id), user_id=user.id, role="agent")
    await insert(member)
    return member


async def test_get_is_the_listed_object(tenant: Tenant, other_tenant: Tenant) -> None:
    conversation = await setup(tenant)
    response = await tenant.client.get(url(conversation))
    assert response.status_code == 200, response.text
    listed = (await tenant.client.get("/api/v1/conversations")).json()["data"]
    assert listed == [response.json()]
    assert response.json()["contact"]["firstName"] == "Ann"
    for bad in ("abc", "0", "99999999999999999999", "123"):
        assert (await tenant.client.get(url(bad))).status_code == 404
    # Another workspace's conversation is not there, for every operation.
    other = other_tenant.client
    assert (await other.get(url(conversation))).status_code == 404
    assert (await other.get(url(conversation, "messages"))).status_code == 404
    calls = [
        ("post", "messages", {"text": "hi"}),
        ("post", "notes", {"text": "hi"}),
        ("post", "assignments", {"assigneeId": None}),
        ("post", "status", {"status": "resolved"}),
        ("post", "bot", {"botEnabled": False}),
        ("post", "read", None),
        ("post", "follow", None),
        ("delete", "follow", None),
    ]
    for method, what, body in calls:
        response = await other.request(method, url(conversation, what), json=body)
        assert response.status_code == 404, (what, response.text)
    assert await rows(Message, Message.conversation_id == conversation.id) == []
    assert await events_of(tenant.workspace_id) == []


async def test_messages_newest_first_with_cursor(tenant: Tenant) -> None:
    conversation = await setup(tenant)
    made = await make_messages(conversation, 5)
    note = await tenant.client.post(url(conversation, "notes"), json={"text": "internal"})
    assert note.status_code == 201
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"perPage": 2} | ({"cursor": cursor} if cursor else {})
        body = (await tenant.client.get(url(conversation, "messages"), params=params)).json()
        seen += [m["id"] for m in body["data"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [note.json()["id"]] + [str(m.id) for m in reversed(made)]
    bad = await tenant.client.get(url(conversation, "messages"), params={"cursor": "!!"})
    assert bad.status_code == 422


async def test_reply_queues_the_message_with_its_attributes(tenant: Tenant) -> None:
    conversation = await setup(tenant, status="pending")
    stored = await make_file(tenant.workspace_id)
    body = {
        "text": "Pick one",
        "files": [str(stored.id), "https://example.com/a.pdf"],
        "buttons": [{"title": "Yes", "payload": "YES"}, {"title": "Site", "url": "https://example.com"}],
        "quickReplies": [{"title": "Red", "payload": "RED"}, {"title": "Blue"}, "Green"],
    }
    response = await tenant.client.post(url(conversation, "messages"), json=body)
    assert response.status_code == 201, response.text
    out = response.json()
    (message,) = await rows(Message, Message.conversation_id == conversation.id)
    assert out["id"] == str(message.id) and out["status"] == "queued" and out["private"] is False
    assert (message.direction, message.sender_type, message.status) == ("outgoing", "agent", "queued")
    (member,) = await rows(Member, Member.workspace_id == int(tenant.workspace_id))
    assert message.sender_id == member.id and message.next_attempt_at is not None
    assert message.content == "Pick one" and message.content_type == "text"
    assert message.inbox_id == conversation.inbox_id
    assert message.content_attributes == {
        "buttons": [{"title": "Yes", "payload": "YES"}, {"title": "Site", "url": "https://example.com"}],
        "quickReplies": [
            {"title": "Red", "payload": "RED"},
            {"title": "Blue", "payload": "Blue"},
            {"title": "Green", "payload": "Green"},
        ],
    }
    assert message.attachments == [
        {"fileId": str(stored.id), "name": "photo.jpg", "contentType": "image/jpeg", "size": 1234},
        {"url": "https://example.com/a.pdf"},
    ]
    after = await reload(conversation)
    assert after.status == "open" and after.admin_replied_at is not None
    recorded = await events_of(tenant.workspace_id)
    assert [t for t, _ in recorded] == [
        "message.created",
        "conversation.status_changed",
        "conversation.updated",
    ]
    assert recorded[0][1]["id"] == str(message.id) and recorded[0][1]["contentAttributes"]["buttons"]
    assert recorded[1][1]["status"] == "open" and recorded[1][1]["previousStatus"] == "pending"
    assert recorded[2][1]["lastMessage"]["id"] == str(message.id)
    assert (
        recorded[2][1]["inboxId"] == str(conversation.inbox_id) and recorded[2][1]["assignedTeamId"] is None
    )


async def test_reply_with_a_template(tenant: Tenant) -> None:
    conversation = await setup(tenant)
    template = {
        "name": "order_update",
        "language": "en_US",
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}],
    }
    response = await tenant.client.post(url(conversation, "messages"), json={"template": template})
    assert response.status_code == 201, response.text
    (message,) = await rows(Message, Message.conversation_id == conversation.id)
    assert message.content_type == "template" and message.content is None
    assert message.content_attributes == {"template": template}
    bare = await tenant.client.post(
        url(conversation, "messages"), json={"template": {"name": "t", "language": "en"}}
    )
    assert bare.status_code == 201
    assert bare.json()["contentAttributes"] == {"template": {"name": "t", "language": "en", "components": []}}


async def test_reply_refusals(tenant: Tenant, other_tenant: Tenant) -> None:
    conversation = await setup(tenant)
    invalid = [
        ({}, "text"),
        ({"buttons": [{"title": "a", "payload": "b"}], "files": ["https://e.com/x.png"]}, "text"),
        ({"text": "t", "template": {"name": "n", "language": "en"}}, "template"),
        ({"text": "t", "buttons": [{"title": "a", "payload": "b", "url": "https://e.com"}]}, "buttons.0"),
        ({"text": "t", "buttons": [{"title": "a"}]}, "buttons.0"),
        ({"text": "t", "buttons": []}, "buttons"),
        ({"text": "t", "buttons": [{"title": "a", "url": "javascript:alert(1)"}]}, "buttons.0.url"),
        ({"text": "t", "color": "red"}, "color"),
        ({"text": ""}, "text"),
        ({"template": {"name": "n"}}, "template.language"),
        ({"files": ["ftp://example.com/x"]}, "files.0"),
    ]
    for body, field in invalid:
        response = await tenant.client.post(url(conversation, "messages"), json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["data"]["errors"][0]["field"] == field, (body, response.text)
    raw = b'{"template": {"name": "n", "language": "en", "components": [{"v": [1e999]}]}}'
    response = await tenant.client.post(
        url(conversation, "messages"), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["data"]["errors"][0]["field"] == "template.components"
    foreign = await make_file(other_tenant.workspace_id)
    response = await tenant.client.post(url(conversation, "messages"), json={"files": [str(foreign.id)]})
    assert response.status_code == 404
    # No inbox: nothing to send on.
    contact = await make_contact(tenant.workspace_id)
    orphan = await make_conversation(contact, None)
    response = await tenant.client.post(url(orphan, "messages"), json={"text": "hi"})
    assert response.status_code == 400 and response.json()["code"] == "NO_INBOX"
    # A blocked contact is not written to.
    inbox = await make_inbox(tenant.workspace_id, "b")
    blocked = await make_contact(tenant.workspace_id, blocked_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    blocked_conversation = await make_conversation(blocked, inbox)
    response = await tenant.client.post(url(blocked_conversation, "messages"), json={"text": "hi"})
    assert response.status_code == 400 and response.json()["code"] == "CONTACT_BLOCKED"
    assert await rows(Message, Message.workspace_id == int(tenant.workspace_id)) == []
    assert await events_of(tenant.workspace_id) == []


async def test_reply_lands_in_the_conversation_replied_to(tenant: Tenant) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    older = await make_conversation(
        contact, inbox, status="resolved", last_activity_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    newer = await make_conversation(contact, inbox, last_activity_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    await make_contact_inbox(contact, inbox)
    response = await tenant.client.post(url(older, "messages"), json={"text": "about your old order"})
    assert response.status_code == 201, response.text
    assert response.json()["conversationId"] == str(older.id)
    assert (await reload(older)).status == "open"
    assert await rows(Message, Message.conversation_id == newer.id) == []


async def test_note_is_private_and_never_queued(tenant: Tenant) -> None:
    conversation = await setup(tenant, status="resolved")
    response = await tenant.client.post(url(conversation, "notes"), json={"text": "VIP, be nice"})
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["private"] is True and out["senderType"] == "agent" and out["content"] == "VIP, be nice"
    (message,) = await rows(Message, Message.conversation_id == conversation.id)
    assert message.private is True and message.status != "queued" and message.next_attempt_at is None
    assert await rows(Message, Message.status == "queued", Message.conversation_id == conversation.id) == []
    # A note changes neither the status nor the "admin replied" marker.
    after = await reload(conversation)
    assert after.status == "resolved" and after.admin_replied_at is None
    assert await types_of(tenant.workspace_id) == ["message.created", "conversation.updated"]
    for body in ({}, {"text": ""}, {"text": "a", "private": False}):
        assert (await tenant.client.post(url(conversation, "notes"), json=body)).status_code == 422


async def test_assign(tenant: Tenant, other_tenant: Tenant) -> None:
    api = tenant.client
    conversation = await setup(tenant)
    member = await make_member(tenant.workspace_id)
    team = Team(workspace_id=int(tenant.workspace_id), name="Sales")
    await insert(team)
    await insert(TeamMember(team_id=team.id, member_id=member.id))

    response = await api.post(url(conversation, "assignments"), json={"teamId": str(team.id)})
    assert response.status_code == 200, response.text
    assert (
        response.json()["assignedInboxTeamId"] == str(team.id) and response.json()["assignedUserId"] is None
    )
    # Assigning a member of the team keeps the team.
    response = await api.post(url(conversation, "assignments"), json={"assigneeId": str(member.id)})
    body = response.json()
    assert body["assignedUserId"] == str(member.user_id) and body["assignedInboxTeamId"] == str(team.id)
    assert body["assignedUser"]["name"] == "Agent" and body["assignedInboxTeam"]["name"] == "Sales"
    # The member shows in the list's assignedId filter.
    listed = (await api.get("/api/v1/conversations", params={"assignedId": str(member.id)})).json()["data"]
    assert [c["id"] for c in listed] == [str(conversation.id)]
    # The same assignment again is no assignment change.
    assert (
        await api.post(url(conversation, "assignments"), json={"assigneeId": member.id})
    ).status_code == 200
    assert await types_of(tenant.workspace_id) == [
        "conversation.assigned",
        "conversation.updated",
        "conversation.assigned",
        "conversation.updated",
        "conversation.updated",
    ]
    _, payload = (await events_of(tenant.workspace_id))[2]
    assert payload["assignedUserId"] == str(member.user_id)

    foreign_member = (await rows(Member, Member.workspace_id == int(other_tenant.workspace_id)))[0]
    foreign_team = Team(workspace_id=int(other_tenant.workspace_id), name="Theirs")
    await insert(foreign_team)
    for body in (
        {"assigneeId": str(foreign_member.id)},
        {"assigneeId": "123"},
        {"teamId": str(foreign_team.id)},
    ):
        response = await api.post(url(conversation, "assignments"), json=body)
        assert response.status_code == 404, (body, response.text)
    for body in ({}, {"assigneeId": "x"}, {"teamId": True}, {"userId": "1"}):
        response = await api.post(url(conversation, "assignments"), json=body)
        assert response.status_code == 422, (body, response.text)
    after = await reload(conversation)
    assert (after.assigned_user_id, after.assigned_team_id) == (member.user_id, team.id)

    response = await api.post(url(conversation, "assignments"), json={"assigneeId": None, "teamId": None})
    assert response.json()["assignedUserId"] is None and response.json()["assignedInboxTeamId"] is None
    assert len(await events_of(tenant.workspace_id)) == 7


async def test_status_and_snooze(tenant: Tenant) -> None:
    api = tenant.client
    conversation = await setup(tenant)
    for body, field in (
        ({"status": "snoozed"}, "snoozedUntil"),
        ({"status": "snoozed", "snoozedUntil": "2020-01-01T00:00:00Z"}, "snoozedUntil"),
        ({"status": "open", "snoozedUntil": FUTURE}, "snoozedUntil"),
        ({"status": "closed"}, "status"),
        ({"status": "snoozed", "snoozedUntil": "tomorrow"}, "snoozedUntil"),
        ({}, "status"),
    ):
        response = await api.post(url(conversation, "status"), json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["data"]["errors"][0]["field"] == field
    response = await api.post(url(conversation, "status"), json={"status": "snoozed", "snoozedUntil": FUTURE})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "snoozed" and response.json()["snoozedUntil"] == FUTURE
    listed = (await api.get("/api/v1/conversations", params={"status": "snoozed"})).json()["data"]
    assert [c["id"] for c in listed] == [str(conversation.id)]
    response = await api.post(url(conversation, "status"), json={"status": "resolved"})
    assert response.json()["status"] == "resolved" and response.json()["snoozedUntil"] is None
    response = await api.post(url(conversation, "status"), json={"status": "resolved"})
    recorded = await events_of(tenant.workspace_id)
    assert [t for t, _ in recorded] == [
        "conversation.status_changed",
        "conversation.updated",
        "conversation.status_changed",
        "conversation.updated",
        "conversation.updated",
    ]
    assert [p["previousStatus"] for _, p in recorded] == ["open", "open", "snoozed", "snoozed", None]


async def _due_count(now: dt.datetime) -> int:
    """Conversations (of any test) a wake at `now` changes: due snoozes and due bot resumes."""
    due = or_(
        and_(Conversation.status == "snoozed", Conversation.snoozed_until <= now),
        and_(Conversation.bot_enabled.is_(False), Conversation.bot_resume_at <= now),
    )
    async with db.get_database().sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Conversation).where(due)) or 0)


async def _wake(now: dt.datetime, interval: float = 0) -> int:
    async with db.get_database().sessionmaker() as session:
        count = await service.wake_snoozed(session, now, interval=interval)
        await db.commit(session)
    return count


async def test_wake_snoozed_reopens_only_due_ones(tenant: Tenant) -> None:
    now = dt.datetime(2050, 1, 1, tzinfo=dt.UTC)
    due = await setup(tenant, status="snoozed", snoozed_until=now - dt.timedelta(minutes=1))
    exactly = await setup(tenant, status="snoozed", snoozed_until=now)
    later = await setup(tenant, status="snoozed", snoozed_until=now + dt.timedelta(minutes=1))
    resolved = await setup(tenant, status="resolved", snoozed_until=now - dt.timedelta(days=1))
    paused = await setup(tenant, bot_enabled=False, bot_resume_at=now - dt.timedelta(minutes=1))
    still_paused = await setup(tenant, bot_enabled=False, bot_resume_at=now + dt.timedelta(minutes=1))
    expected = await _due_count(now)
    # Other tests' rows may be due too (and the app's own dispatcher may wake those first).
    assert 3 <= await _wake(now) <= expected
    assert (await reload(due)).status == "open" and (await reload(due)).snoozed_until is None
    assert (await reload(exactly)).status == "open"
    assert (await reload(later)).status == "snoozed" and (await reload(resolved)).status == "resolved"
    assert (await reload(paused)).bot_enabled is True and (await reload(paused)).bot_resume_at is None
    assert (await reload(still_paused)).bot_enabled is False
    recorded = await events_of(tenant.workspace_id)
    changed = [(t, p["id"], p["previousStatus"]) for t, p in recorded]
    assert sorted(changed[:4]) == sorted(
        [
            ("conversation.status_changed", str(due.id), "snoozed"),
            ("conversation.updated", str(due.id), "snoozed"),
            ("conversation.status_changed", str(exactly.id), "snoozed"),
            ("conversation.updated", str(exactly.id), "snoozed"),
        ]
    )
    assert changed[4:] == [("conversation.updated", str(paused.id), None)]
    assert all(p["status"] == "open" for t, p in recorded[:4])
    # Nothing is due any more: a second tick changes nothing and publishes nothing.
    assert await _wake(now) == 0
    assert len(await events_of(tenant.workspace_id)) == 5


async def test_wake_snoozed_looks_at_most_once_per_interval(tenant: Tenant) -> None:
    now = dt.datetime(2050, 1, 1, tzinfo=dt.UTC)
    await _wake(now)  # nothing else due
    assert await _wake(now, interval=3600) == 0  # a look just happened
    due = await setup(tenant, status="snoozed", snoozed_until=now - dt.timedelta(minutes=1))
    assert await _wake(now, interval=3600) == 0
    assert (await reload(due)).status == "snoozed"
    assert await _wake(now) == 1
    assert (await reload(due)).status == "open"


async def test_bot_read_follow(tenant: Tenant) -> None:
    api = tenant.client
    conversation = await setup(tenant)
    response = await api.post(url(conversation, "bot"), json={"botEnabled": False, "botResumeAt": FUTURE})
    assert response.status_code == 200, response.text
    assert response.json()["botEnabled"] is False and response.json()["botResumeAt"] == FUTURE
    assert (await reload(conversation)).transferred_to_human_at is not None
    for body, field in (
        ({"botEnabled": True, "botResumeAt": FUTURE}, "botResumeAt"),
        ({"botEnabled": False, "botResumeAt": "2020-01-01T00:00:00Z"}, "botResumeAt"),
        ({}, "botEnabled"),
        ({"botEnabled": "maybe"}, "botEnabled"),
    ):
        response = await api.post(url(conversation, "bot"), json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["data"]["errors"][0]["field"] == field
    response = await api.post(url(conversation, "bot"), json={"botEnabled": True})
    assert response.json()["botEnabled"] is True and response.json()["botResumeAt"] is None

    await make_messages(conversation, 1)
    async with db.get_database().sessionmaker() as session:
        row = await session.get_one(Conversation, conversation.id)
        row.contact_replied_at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        await db.commit(session)
    unread = (await api.get("/api/v1/conversations", params={"status": "unread"})).json()["data"]
    assert [c["id"] for c in unread] == [str(conversation.id)]
    response = await api.post(url(conversation, "read"))
    assert response.status_code == 200 and response.json()["agentLastReadAt"] is not None
    assert (await api.get("/api/v1/conversations", params={"status": "unread"})).json()["data"] == []

    response = await api.post(url(conversation, "follow"))
    assert response.status_code == 200 and response.json()["followed"] is True
    follow_up = (await api.get("/api/v1/conversations", params={"status": "followUp"})).json()["data"]
    assert [c["id"] for c in follow_up] == [str(conversation.id)]
    response = await api.delete(url(conversation, "follow"))
    assert response.status_code == 200 and response.json()["followed"] is False
    assert await types_of(tenant.workspace_id) == ["conversation.updated"] * 5


async def test_scopes(tenant: Tenant, app: object) -> None:
    conversation = await setup(tenant)
    async with db.get_database().sessionmaker() as session:
        _, plain = await create_token(session, int(tenant.workspace_id), ["conversations.list"])
        await db.commit(session)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {plain}"},
    ) as reader:
        assert (await reader.get(url(conversation))).status_code == 200
        assert (await reader.get(url(conversation, "messages"))).status_code == 200
        response = await reader.post(url(conversation, "messages"), json={"text": "hi"})
        assert response.status_code == 403
        assert (await reader.post(url(conversation, "read"))).status_code == 403
    assert await rows(Message, Message.conversation_id == conversation.id) == []


def _delivery_checks_wired() -> bool:
    # PIPELINE-OUT's checks (dispatcher.policy.check_sendable) run inside queue_outgoing_message.
    return "check_sendable" in inspect.getsource(messages_service.queue_outgoing_message)


async def test_reply_surfaces_the_channel_refusals(tenant: Tenant) -> None:
    if not _delivery_checks_wired():
        pytest.skip("queue_outgoing_message does not run the delivery checks yet")
    import chatbotx.channels.whatsapp  # noqa: F401  (registers the adapter)

    inbox = await make_inbox(tenant.workspace_id, "WA", "whatsapp")
    contact = await make_contact(tenant.workspace_id)
    await insert(
        ContactInbox(
            contact_id=contact.id,
            inbox_id=inbox.id,
            source_id="15550001111",
            last_inbound_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
        )
    )
    conversation = await make_conversation(contact, inbox)
    response = await tenant.client.post(url(conversation, "messages"), json={"text": "still there?"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "OUTSIDE_WINDOW"
    assert await rows(Message, Message.conversation_id == conversation.id) == []
    assert await events_of(tenant.workspace_id) == []
    # A template may be sent outside the window.
    template = {"name": "follow_up", "language": "en_US"}
    response = await tenant.client.post(url(conversation, "messages"), json={"template": template})
    assert response.status_code == 201, response.text

    unreachable = await make_contact(tenant.workspace_id)
    await insert(
        ContactInbox(
            contact_id=unreachable.id,
            inbox_id=inbox.id,
            source_id="15550002222",
            last_inbound_at=dt.datetime.now(dt.UTC),
            unreachable_at=dt.datetime.now(dt.UTC),
            unreachable_reason="BLOCKED_BY_USER",
        )
    )
    blocked_us = await make_conversation(unreachable, inbox)
    response = await tenant.client.post(url(blocked_us, "messages"), json={"text": "hello?"})
    assert response.status_code == 400 and response.json()["code"] == "CONTACT_UNREACHABLE", response.text
    assert await rows(Message, Message.conversation_id == blocked_us.id) == []


async def test_typing_publishes_events(tenant: Tenant) -> None:
    """On an inbox without a channel adapter only the events go out (the webchat forwards them)."""
    inbox = await make_inbox(tenant.workspace_id, "API", "api")
    contact = await make_contact(tenant.workspace_id)
    await make_contact_inbox(contact, inbox)
    conversation = await make_conversation(contact, inbox)
    for typing in (True, False):
        response = await tenant.client.post(url(conversation, "typing"), json={"typing": typing})
        assert response.status_code == 204, response.text
    assert await events_of(tenant.workspace_id) == [
        (
            kind,
            {
                "conversationId": str(conversation.id),
                "contactId": str(contact.id),
                "inboxId": str(inbox.id),
                "typing": kind.endswith("_on"),
            },
        )
        for kind in ("conversation.typing_on", "conversation.typing_off")
    ]
    for body in ({}, {"typing": "sometimes"}):
        assert (await tenant.client.post(url(conversation, "typing"), json=body)).status_code == 422
    assert (await tenant.client.post(url(999, "typing"), json={"typing": True})).status_code == 404


async def test_reply_message_tags(tenant: Tenant) -> None:
    import chatbotx.channels.whatsapp  # noqa: F401  (registers the adapter)

    inbox = await make_inbox(tenant.workspace_id, "WA", "whatsapp")
    contact = await make_contact(tenant.workspace_id)
    await insert(
        ContactInbox(
            contact_id=contact.id,
            inbox_id=inbox.id,
            source_id="15550003333",
            last_inbound_at=dt.datetime.now(dt.UTC),
        )
    )
    conversation = await make_conversation(contact, inbox)
    unknown = await tenant.client.post(
        url(conversation, "messages"), json={"text": "hi", "tag": "SHIPPING_UPDATE"}
    )
    assert unknown.status_code == 422 and "tag" in unknown.text
    elsewhere = await tenant.client.post(
        url(conversation, "messages"), json={"text": "hi", "tag": "HUMAN_AGENT"}
    )
    assert elsewhere.status_code == 422, elsewhere.text
    assert elsewhere.json()["data"]["errors"] == [
        {"field": "tag", "message": "message tags are for Messenger and Instagram, not WhatsApp"}
    ]
    assert await rows(Message, Message.conversation_id == conversation.id) == []
