from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx

from chatbotx.models import (
    Contact,
    ContactTag,
    Conversation,
    Inbox,
    Member,
    Message,
    Tag,
    Team,
    User,
)
from tests.conftest import Tenant, statements_of_this_task
from tests.lists.rows import ids, insert

T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


async def listed(api: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await api.get("/api/v1/conversations", params=params)
    assert response.status_code == 200, response.text
    return ids(response.json()["data"])


async def test_conversation_object(tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    user = User(email=f"agent-{uuid.uuid4().hex}@example.com", name="Agent A", image="https://img/a.png")
    inbox = Inbox(workspace_id=ws, name="Support bot", channel="telegram", source_id="bot123")
    team = Team(workspace_id=ws, name="Sales")
    contact = Contact(
        workspace_id=ws,
        first_name="Ann",
        last_name="Lee",
        full_name="Ann Lee",
        email="ann@example.com",
        phone_number="+15550001111",
        avatar="https://img/ann.png",
    )
    await insert(user, inbox, team, contact)
    conversation = Conversation(
        workspace_id=ws,
        contact_id=contact.id,
        inbox_id=inbox.id,
        status="pending",
        bot_enabled=False,
        additional_attributes={"referer": "https://shop.example.com"},
        last_activity_at=at(5),
        contact_replied_at=at(4),
        followed=True,
        assigned_user_id=user.id,
        assigned_team_id=team.id,
        ai_context_last_message_id=42,
    )
    await insert(conversation)
    common = {"workspace_id": ws, "conversation_id": conversation.id, "contact_id": contact.id}
    older = Message(**common, direction="incoming", sender_type="contact", content="hi", status="delivered")
    await insert(older)
    newer = Message(
        **common,
        direction="outgoing",
        sender_type="agent",
        sender_id=user.id,
        content="hello!",
        status="sent",
        private=False,
    )
    await insert(newer)

    response = await tenant.client.get("/api/v1/conversations")
    assert response.status_code == 200
    body = response.json()
    assert body["nextCursor"] is None and len(body["data"]) == 1
    item = body["data"][0]
    assert set(item) == {
        "id",
        "createdAt",
        "updatedAt",
        "status",
        "snoozedUntil",
        "botEnabled",
        "botResumeAt",
        "archivedAt",
        "additionalAttributes",
        "contactLastReadAt",
        "agentLastReadAt",
        "lastActivityAt",
        "followed",
        "workspaceId",
        "contactId",
        "adminRepliedAt",
        "contactRepliedAt",
        "aiContextLastMessageId",
        "assignedUserId",
        "assignedInboxTeamId",
        "assignedUser",
        "assignedInboxTeam",
        "inbox",
        "contact",
        "lastMessage",
    }
    assert item["id"] == str(conversation.id) and item["status"] == "pending"
    assert item["botEnabled"] is False and item["followed"] is True
    assert (
        item["lastActivityAt"] == "2026-05-01T12:05:00Z"
        and item["contactRepliedAt"] == "2026-05-01T12:04:00Z"
    )
    assert item["additionalAttributes"] == {"referer": "https://shop.example.com"}
    assert item["aiContextLastMessageId"] == "42"
    assert item["workspaceId"] == tenant.workspace_id and item["contactId"] == str(contact.id)
    assert item["assignedUserId"] == str(user.id) and item["assignedInboxTeamId"] == str(team.id)
    assert item["assignedUser"] | {"createdAt": None, "updatedAt": None} == {
        "id": str(user.id),
        "createdAt": None,
        "updatedAt": None,
        "name": "Agent A",
        "email": user.email,
        "emailVerified": False,
        "image": "https://img/a.png",
        "isAnonymous": False,
    }
    assert item["assignedInboxTeam"]["name"] == "Sales"
    assert item["assignedInboxTeam"]["workspaceId"] == tenant.workspace_id
    assert item["inbox"] | {"createdAt": None, "updatedAt": None} == {
        "id": str(inbox.id),
        "createdAt": None,
        "updatedAt": None,
        "name": "Support bot",
        "channel": "telegram",
        "sourceId": "bot123",
        "workspaceId": tenant.workspace_id,
        "status": "active",
    }
    assert item["contact"] == {
        "id": str(contact.id),
        "firstName": "Ann",
        "lastName": "Lee",
        "fullName": "Ann Lee",
        "email": "ann@example.com",
        "phoneNumber": "+15550001111",
        "avatar": "https://img/ann.png",
    }
    assert item["lastMessage"] | {"createdAt": None} == {
        "id": str(newer.id),
        "createdAt": None,
        "direction": "outgoing",
        "private": False,
        "senderType": "agent",
        "senderId": str(user.id),
        "contentType": "text",
        "content": "hello!",
        "status": "sent",
    }


async def test_conversation_without_inbox_assignee_or_messages(tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    contact = Contact(workspace_id=ws)
    await insert(contact)
    await insert(Conversation(workspace_id=ws, contact_id=contact.id))
    item = (await tenant.client.get("/api/v1/conversations")).json()["data"][0]
    assert item["inbox"] is None and item["assignedUser"] is None and item["assignedInboxTeam"] is None
    assert item["lastMessage"] is None and item["status"] == "open" and item["botEnabled"] is True
    assert item["contact"]["firstName"] is None


async def test_filters(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    api = tenant.client
    tg = Inbox(workspace_id=ws, name="tg", channel="telegram")
    wa = Inbox(workspace_id=ws, name="wa", channel="whatsapp")
    agent = User(email=f"agent-{uuid.uuid4().hex}@example.com", name="Agent")
    other_agent = User(email=f"agent-{uuid.uuid4().hex}@example.com", name="Agent 2")
    vip = Tag(workspace_id=ws, name="vip")
    lead = Tag(workspace_id=ws, name="lead")
    cold = Tag(workspace_id=ws, name="cold")
    ann = Contact(
        workspace_id=ws,
        first_name="Ann",
        last_name="Smith",
        email="ann@acme.com",
        phone_number="+15550001111",
    )
    bob = Contact(
        workspace_id=ws,
        first_name="Bob",
        full_name="Bob Stone",
        email="bob@globex.com",
        phone_number="+442071234567",
        blocked_at=at(0),
    )
    cyd = Contact(workspace_id=ws, first_name="Cyd", email="cyd@acme.com")
    await insert(tg, wa, agent, other_agent, vip, lead, cold, ann, bob, cyd)
    member = Member(workspace_id=ws, user_id=agent.id, role="agent")
    await insert(
        member,
        ContactTag(contact_id=ann.id, tag_id=vip.id),
        ContactTag(contact_id=bob.id, tag_id=lead.id),
    )
    # c1: Ann on Telegram, bot on, the contact wrote and nobody answered or read it.
    c1 = Conversation(
        workspace_id=ws, contact_id=ann.id, inbox_id=tg.id, last_activity_at=at(10), contact_replied_at=at(10)
    )
    # c2: Bob (blocked) on WhatsApp, human, assigned, answered and read after his message, resolved, archived.
    c2 = Conversation(
        workspace_id=ws,
        contact_id=bob.id,
        inbox_id=wa.id,
        bot_enabled=False,
        status="resolved",
        assigned_user_id=agent.id,
        contact_replied_at=at(1),
        admin_replied_at=at(2),
        agent_last_read_at=at(2),
        archived_at=at(3),
        last_activity_at=at(9),
    )
    # c3: Cyd on Telegram, human, followed, snoozed; read but answered before her last message.
    c3 = Conversation(
        workspace_id=ws,
        contact_id=cyd.id,
        inbox_id=tg.id,
        bot_enabled=False,
        status="snoozed",
        followed=True,
        contact_replied_at=at(5),
        admin_replied_at=at(4),
        agent_last_read_at=at(6),
        assigned_user_id=other_agent.id,
        last_activity_at=at(8),
    )
    # c4: Ann again, no inbox, pending, nothing from the contact yet.
    c4 = Conversation(workspace_id=ws, contact_id=ann.id, status="pending", last_activity_at=at(7))
    foreign_contact = Contact(workspace_id=int(other_tenant.workspace_id), first_name="Ann")
    await insert(c1, c2, c3, c4, foreign_contact)
    await insert(Conversation(workspace_id=int(other_tenant.workspace_id), contact_id=foreign_contact.id))
    i1, i2, i3, i4 = (str(c.id) for c in (c1, c2, c3, c4))

    assert await listed(api) == [i1, i2, i3, i4]
    assert await listed(api, botCategory="all") == [i1, i2, i3, i4]
    assert await listed(api, botCategory="bot") == [i1, i4]
    assert await listed(api, botCategory="human") == [i2, i3]
    assert await listed(api, botEnabled="true") == [i1, i4]
    assert await listed(api, botEnabled="false") == [i2, i3]
    assert await listed(api, botCategory="bot", botEnabled="false") == []
    assert await listed(api, botCategory="human", botEnabled="false") == [i2, i3]

    assert await listed(api, assignedId=str(agent.id)) == [i2]  # a user id
    assert await listed(api, assignedId=str(member.id)) == [i2]  # a member id
    assert await listed(api, assignedId=str(other_agent.id)) == [i3]
    assert await listed(api, assignedId="12345") == []

    assert await listed(api, channel="telegram") == [i1, i3]
    assert await listed(api, channel="whatsapp") == [i2]
    assert await listed(api, channel="messenger") == []

    assert await listed(api, status="noAdminReply") == [i1, i3]
    assert await listed(api, status="unread") == [i1]
    assert await listed(api, status="followUp") == [i3]
    assert await listed(api, status="archived") == [i2]
    assert await listed(api, status="blocked") == [i2]
    assert await listed(api, status="open") == [i1]
    assert await listed(api, status="pending") == [i4]
    assert await listed(api, status="snoozed") == [i3]
    assert await listed(api, status="resolved") == [i2]

    assert await listed(api, keyword="ann") == [i1, i4]  # first name, any case
    assert await listed(api, keyword="SMITH") == [i1, i4]  # last name
    assert await listed(api, keyword="bob stone") == [i2]  # full name
    assert await listed(api, keyword="acme.com") == [i1, i3, i4]  # email
    assert await listed(api, keyword="2071234") == [i2]  # phone
    assert await listed(api, keyword="nobody") == []
    assert await listed(api, keyword="_") == []  # LIKE wildcards are literal

    assert await listed(api, tags=str(vip.id)) == [i1, i4]
    assert await listed(api, tags=[str(vip.id), str(lead.id)]) == [i1, i2, i4]
    assert await listed(api, tags=f"{lead.id},{vip.id}") == [i1, i2, i4]
    assert await listed(api, tags=str(cold.id)) == []

    acme = {
        "operator": "and",
        "conditions": [{"field": "email", "operator": "endsWith", "value": "@acme.com"}],
    }
    assert await listed(api, contactFilter=json.dumps(acme)) == [i1, i3, i4]
    blocked = {"operator": "and", "conditions": [{"field": "blocked", "operator": "eq", "value": True}]}
    assert await listed(api, contactFilter=json.dumps(blocked)) == [i2]
    tagged = {"operator": "or", "conditions": [{"field": "tags", "operator": "in", "value": [str(cold.id)]}]}
    assert await listed(api, contactFilter=json.dumps(tagged)) == []

    # Filters combine with AND.
    assert await listed(api, channel="telegram", status="noAdminReply", botCategory="human") == [i3]
    assert await listed(api, keyword="ann", status="pending", tags=str(vip.id)) == [i4]

    assert ids((await other_tenant.client.get("/api/v1/conversations")).json()["data"]) != []
    assert not set(await listed(other_tenant.client)) & {i1, i2, i3, i4}


async def test_bad_filters_are_422(api: httpx.AsyncClient) -> None:
    for params in (
        {"status": "closed"},
        {"botCategory": "robot"},
        {"channel": "fax"},
        {"assignedId": "me"},
        {"tags": "1,x"},
        {"tags": ",".join(str(n) for n in range(1, 102))},
        {"botEnabled": "maybe"},
        {"contactFilter": "{nope"},
        {"contactFilter": '{"conditions":[{"field":"shoeSize","operator":"eq","value":1}]}'},
        {"cursor": "!!!"},
        {"cursor": "bm90LWEtY3Vyc29y"},
        {"perPage": 0},
    ):
        response = await api.get("/api/v1/conversations", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["code"] == "INVALID_REQUEST_DATA"


async def test_cursor_walks_everything_once(tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    contact = Contact(workspace_id=ws, first_name="Walker")
    await insert(contact)
    # 23 conversations, many sharing a lastActivityAt so the id tiebreak matters.
    rows = [
        Conversation(workspace_id=ws, contact_id=contact.id, last_activity_at=at(i // 4)) for i in range(23)
    ]
    await insert(*rows)
    expected = [str(c.id) for c in sorted(rows, key=lambda c: (c.last_activity_at, c.id), reverse=True)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"perPage": 5}
        if cursor:
            params["cursor"] = cursor
        body = (await tenant.client.get("/api/v1/conversations", params=params)).json()
        seen += ids(body["data"])
        pages += 1
        if pages == 2:
            # New activity arriving mid-walk lands before the cursor and does not disturb the walk.
            await insert(Conversation(workspace_id=ws, contact_id=contact.id, last_activity_at=at(100)))
        cursor = body["nextCursor"]
        if cursor is None:
            break
        assert len(body["data"]) == 5
    assert seen == expected and pages == 5

    big = (await tenant.client.get("/api/v1/conversations", params={"perPage": 500})).json()
    assert len(big["data"]) == 24 and big["nextCursor"] is None  # perPage is capped at 50
    capped = (await tenant.client.get("/api/v1/conversations", params={"perPage": 10})).json()
    assert len(capped["data"]) == 10 and capped["nextCursor"]


async def test_page_costs_the_same_queries_for_2_or_20_rows(tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)

    async def add(n: int) -> None:
        inbox = Inbox(workspace_id=ws, name=f"in{uuid.uuid4().hex}", channel="webchat")
        user = User(email=f"u-{uuid.uuid4().hex}@example.com")
        team = Team(workspace_id=ws, name=f"team-{uuid.uuid4().hex}")
        await insert(inbox, user, team)
        for _ in range(n):
            contact = Contact(workspace_id=ws)
            await insert(contact)
            conversation = Conversation(
                workspace_id=ws,
                contact_id=contact.id,
                inbox_id=inbox.id,
                assigned_user_id=user.id,
                assigned_team_id=team.id,
            )
            await insert(conversation)
            message = Message(
                workspace_id=ws,
                conversation_id=conversation.id,
                contact_id=contact.id,
                direction="incoming",
                sender_type="contact",
                content="x",
            )
            await insert(message)

    await tenant.client.get("/api/v1/conversations")  # warm the token cache
    await add(2)
    with statements_of_this_task() as few:
        assert len(await listed(tenant.client, perPage=50)) == 2
    await add(18)
    with statements_of_this_task() as many:
        assert len(await listed(tenant.client, perPage=50)) == 20
    assert 2 <= len(few) == len(many) <= 6
