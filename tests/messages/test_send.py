from __future__ import annotations

import datetime as dt

from chatbotx.models import Conversation, FlowRun, Member, Message
from tests.conftest import Tenant
from tests.contact_tags.factories import (
    make_contact,
    make_contact_inbox,
    make_conversation,
    make_file,
    make_flow,
    make_inbox,
    rows,
)


def url(contact_id: int, what: str = "messages") -> str:
    return f"/api/v1/contacts/id:{contact_id}/{what}"


async def outgoing(contact_id: int) -> list[Message]:
    return await rows(Message, Message.contact_id == contact_id, Message.direction == "outgoing")


async def test_send_text_opens_a_conversation_and_queues_the_message(tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    await make_contact_inbox(contact, inbox)

    response = await api.post(url(contact.id), json={"text": "Hello there"})
    assert response.status_code == 204, response.text
    assert response.content == b""

    (conversation,) = await rows(Conversation, Conversation.contact_id == contact.id)
    assert conversation.inbox_id == inbox.id and conversation.status == "open"
    assert conversation.admin_replied_at is not None
    assert conversation.last_activity_at == conversation.admin_replied_at
    (member,) = await rows(Member, Member.workspace_id == int(tenant.workspace_id))
    (message,) = await outgoing(contact.id)
    assert (message.conversation_id, message.inbox_id) == (conversation.id, inbox.id)
    assert (message.status, message.sender_type, message.sender_id) == ("queued", "agent", member.id)
    assert message.content == "Hello there" and message.private is False
    assert message.next_attempt_at is not None

    listed = (await api.get(url(contact.id))).json()["data"]
    assert [(m["id"], m["status"], m["direction"]) for m in listed] == [
        (str(message.id), "queued", "outgoing")
    ]


async def test_send_reuses_and_reopens_the_latest_conversation(tenant: Tenant) -> None:
    api = tenant.client
    old_inbox, new_inbox = (
        await make_inbox(tenant.workspace_id, "a"),
        await make_inbox(tenant.workspace_id, "b"),
    )
    contact = await make_contact(tenant.workspace_id)
    await make_contact_inbox(contact, old_inbox)
    long_ago = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    await make_conversation(contact, old_inbox, last_activity_at=long_ago)
    latest = await make_conversation(
        contact, new_inbox, status="resolved", last_activity_at=long_ago + dt.timedelta(days=1)
    )

    assert (await api.post(url(contact.id), json={"text": "back"})).status_code == 204
    (message,) = await outgoing(contact.id)
    assert message.conversation_id == latest.id and message.inbox_id == new_inbox.id
    (reopened,) = await rows(Conversation, Conversation.id == latest.id)
    assert reopened.status == "open" and reopened.last_activity_at > long_ago
    assert len(await rows(Conversation, Conversation.contact_id == contact.id)) == 2

    # An explicit inbox wins; with no conversation there yet, one is opened.
    third = await make_inbox(tenant.workspace_id, "c")
    assert (await api.post(url(contact.id), json={"text": "x", "inboxId": str(third.id)})).status_code == 204
    assert len(await rows(Conversation, Conversation.contact_id == contact.id)) == 3
    assert {m.inbox_id for m in await outgoing(contact.id)} == {new_inbox.id, third.id}


async def test_no_inbox_is_a_business_error(tenant: Tenant) -> None:
    api = tenant.client
    lonely = await make_contact(tenant.workspace_id)
    response = await api.post(url(lonely.id), json={"text": "hi"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "NO_INBOX"

    torn = await make_contact(tenant.workspace_id)
    await make_contact_inbox(torn, await make_inbox(tenant.workspace_id, "a"), "s1")
    await make_contact_inbox(torn, await make_inbox(tenant.workspace_id, "b"), "s2")
    response = await api.post(url(torn.id), json={"text": "hi"})
    assert response.status_code == 400 and response.json()["code"] == "NO_INBOX"
    for what, body in (("flows", {"flowId": "1"}), ("auto-replies", {"keyword": "hi"})):
        response = await api.post(url(torn.id, what), json=body)
        assert response.status_code == 400 and response.json()["code"] == "NO_INBOX"
    assert await rows(Conversation, Conversation.workspace_id == int(tenant.workspace_id)) == []


async def test_files_become_attachments(tenant: Tenant, other_tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    await make_contact_inbox(contact, inbox)
    stored = await make_file(tenant.workspace_id)
    body = {"files": [str(stored.id), "https://example.com/a.pdf"], "inboxId": inbox.id}
    assert (await api.post(url(contact.id), json=body)).status_code == 204
    (message,) = await outgoing(contact.id)
    assert message.content is None
    assert message.attachments == [
        {"fileId": str(stored.id), "name": "photo.jpg", "contentType": "image/jpeg", "size": 1234},
        {"url": "https://example.com/a.pdf"},
    ]
    # A single id is taken as a list of one.
    assert (await api.post(url(contact.id), json={"text": "t", "files": stored.id})).status_code == 204

    foreign = await make_file(other_tenant.workspace_id)
    response = await api.post(url(contact.id), json={"files": [str(foreign.id), "123"]})
    assert response.status_code == 404, response.text
    assert response.json()["data"]["files"] == [str(foreign.id), "123"]
    response = await api.post(url(contact.id), json={"files": ["ftp://example.com/x"]})
    assert response.status_code == 422
    assert response.json()["data"]["errors"][0]["field"] == "files.0"
    assert len(await outgoing(contact.id)) == 2


async def test_send_with_a_flow_starts_a_run_instead(tenant: Tenant, other_tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    await make_contact_inbox(contact, inbox)
    flow = await make_flow(tenant.workspace_id)

    body = {"flowId": str(flow.id), "nodeId": "node-7"}
    assert (await api.post(url(contact.id), json=body)).status_code == 204
    (run,) = await rows(FlowRun, FlowRun.contact_id == contact.id)
    assert (run.flow_id, run.inbox_id, run.node_id, run.status) == (flow.id, inbox.id, "node-7", "pending")
    assert run.workspace_id == int(tenant.workspace_id)
    assert await outgoing(contact.id) == []

    foreign = await make_flow(other_tenant.workspace_id)
    response = await api.post(url(contact.id), json={"flowId": foreign.id})
    assert response.status_code == 404 and response.json()["data"]["resource"] == "flow"
    assert len(await rows(FlowRun, FlowRun.contact_id == contact.id)) == 1


async def test_send_flow_endpoint(tenant: Tenant, other_tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    flow = await make_flow(tenant.workspace_id)
    response = await api.post(url(contact.id, "flows"), json={"flowId": flow.id, "inboxId": str(inbox.id)})
    assert response.status_code == 204, response.text
    (run,) = await rows(FlowRun, FlowRun.contact_id == contact.id)
    assert (run.flow_id, run.inbox_id, run.status, run.node_id) == (flow.id, inbox.id, "pending", None)

    foreign_flow = await make_flow(other_tenant.workspace_id)
    foreign_inbox = await make_inbox(other_tenant.workspace_id)
    theirs = await make_contact(other_tenant.workspace_id)
    for contact_id, body in (
        (contact.id, {"flowId": foreign_flow.id, "inboxId": inbox.id}),
        (contact.id, {"flowId": 987654321, "inboxId": inbox.id}),
        (contact.id, {"flowId": flow.id, "inboxId": foreign_inbox.id}),
        (theirs.id, {"flowId": flow.id, "inboxId": inbox.id}),
    ):
        response = await api.post(url(contact_id, "flows"), json=body)
        assert response.status_code == 404, (body, response.text)
    for body in ({}, {"flowId": "abc"}, {"flowId": flow.id, "text": "x"}):
        assert (await api.post(url(contact.id, "flows"), json=body)).status_code == 422
    assert len(await rows(FlowRun, FlowRun.workspace_id == int(tenant.workspace_id))) == 1


async def test_bad_send_bodies_are_422_and_write_nothing(tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    await make_contact_inbox(contact, inbox)
    flow = await make_flow(tenant.workspace_id)
    cases = [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"files": []}, "text"),
        ({"text": "x" * 10_001}, "text"),
        ({"nodeId": "n1", "text": "x"}, "nodeId"),
        ({"flowId": flow.id, "text": "x"}, "flowId"),
        ({"flowId": flow.id, "files": ["https://example.com/x"]}, "flowId"),
        ({"text": "x", "inboxId": "inbox-1"}, "inboxId"),
        ({"text": "x", "html": "<b>"}, "html"),
        ({"files": [f"https://example.com/{i}" for i in range(11)]}, "files"),
    ]
    for body, field in cases:
        response = await api.post(url(contact.id), json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["data"]["errors"][0]["field"] == field, (body, response.json())
    assert await outgoing(contact.id) == []
    assert await rows(Conversation, Conversation.contact_id == contact.id) == []


async def test_other_workspace_contact_or_inbox_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    api = tenant.client
    theirs = await make_contact(other_tenant.workspace_id)
    their_inbox = await make_inbox(other_tenant.workspace_id)
    await make_contact_inbox(theirs, their_inbox)
    mine = await make_contact(tenant.workspace_id)
    for contact_id, body in ((theirs.id, {"text": "x"}), (mine.id, {"text": "x", "inboxId": their_inbox.id})):
        response = await api.post(url(contact_id), json=body)
        assert response.status_code == 404, response.text
    assert await outgoing(theirs.id) == [] and await outgoing(mine.id) == []


async def test_blocked_contact_gets_nothing(tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id, blocked_at=dt.datetime.now(dt.UTC))
    await make_contact_inbox(contact, inbox)
    flow = await make_flow(tenant.workspace_id)
    for what, body in (
        ("messages", {"text": "hi"}),
        ("messages", {"flowId": flow.id}),
        ("flows", {"flowId": flow.id}),
        ("auto-replies", {"keyword": "hi"}),
    ):
        response = await api.post(url(contact.id, what), json=body)
        assert response.status_code == 400, (what, response.text)
        assert response.json()["code"] == "CONTACT_BLOCKED"
    assert await outgoing(contact.id) == []
    assert await rows(FlowRun, FlowRun.contact_id == contact.id) == []
