from __future__ import annotations

from chatbotx.models import Conversation, FlowRun, Message
from tests.conftest import Tenant
from tests.contact_tags.factories import (
    make_contact,
    make_contact_inbox,
    make_flow,
    make_inbox,
    make_keyword,
    rows,
)


def url(contact_id: int) -> str:
    return f"/api/v1/contacts/id:{contact_id}/auto-replies"


async def test_text_keyword_queues_a_bot_reply(tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    await make_contact_inbox(contact, inbox)
    keyword = await make_keyword(
        tenant.workspace_id, phrases=["price", "cost"], match_type="contains", reply_text="It is 5 EUR."
    )
    response = await api.post(url(contact.id), json={"keyword": "What does it COST?"})
    assert response.status_code == 204, response.text
    (message,) = await rows(Message, Message.contact_id == contact.id)
    assert (message.direction, message.sender_type, message.sender_id) == ("outgoing", "bot", None)
    assert (message.content, message.status, message.inbox_id) == ("It is 5 EUR.", "queued", inbox.id)
    assert message.content_attributes == {"keywordId": str(keyword.id)}
    (conversation,) = await rows(Conversation, Conversation.contact_id == contact.id)
    assert conversation.status == "open" and conversation.admin_replied_at is None


async def test_flow_keyword_starts_a_run(tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    flow = await make_flow(tenant.workspace_id)
    await make_keyword(
        tenant.workspace_id, phrases=["start"], match_type="startsWith", reply_type="flow", flow_id=flow.id
    )
    response = await api.post(url(contact.id), json={"keyword": "Start now", "inboxId": str(inbox.id)})
    assert response.status_code == 204, response.text
    (run,) = await rows(FlowRun, FlowRun.contact_id == contact.id)
    assert (run.flow_id, run.inbox_id, run.status) == (flow.id, inbox.id, "pending")
    assert await rows(Message, Message.contact_id == contact.id) == []


async def test_highest_priority_match_on_the_inbox_wins(tenant: Tenant, other_tenant: Tenant) -> None:
    api = tenant.client
    inbox, elsewhere = await make_inbox(tenant.workspace_id, "a"), await make_inbox(tenant.workspace_id, "b")
    contact = await make_contact(tenant.workspace_id)
    await make_contact_inbox(contact, inbox)
    ws = tenant.workspace_id
    await make_keyword(ws, name="low", phrases=["help"], match_type="contains", priority=1, reply_text="low")
    await make_keyword(
        ws, name="off", phrases=["help"], match_type="contains", priority=9, reply_text="off", active=False
    )
    await make_keyword(
        ws,
        name="other inbox",
        phrases=["help"],
        match_type="contains",
        priority=9,
        reply_text="b",
        inbox_id=elsewhere.id,
    )
    await make_keyword(
        ws, name="no text", phrases=["help"], match_type="contains", priority=9, reply_text=None
    )
    await make_keyword(
        other_tenant.workspace_id, phrases=["help"], match_type="contains", priority=99, reply_text="x"
    )
    await make_keyword(
        ws,
        name="mine",
        phrases=["help"],
        match_type="contains",
        priority=5,
        reply_text="mine",
        inbox_id=inbox.id,
    )

    assert (await api.post(url(contact.id), json={"keyword": "please help"})).status_code == 204
    (message,) = await rows(Message, Message.contact_id == contact.id)
    assert message.content == "mine"


async def test_no_match_is_keyword_not_found(tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    await make_contact_inbox(contact, inbox)
    await make_keyword(tenant.workspace_id, phrases=["hi"], match_type="is", reply_text="hello")
    for text in ("hi there", "this", "nothing"):
        response = await api.post(url(contact.id), json={"keyword": text})
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "KEYWORD_NOT_FOUND"
    assert await rows(Message, Message.contact_id == contact.id) == []
    assert await rows(Conversation, Conversation.contact_id == contact.id) == []


async def test_bad_bodies_and_foreign_ids(tenant: Tenant, other_tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    theirs = await make_contact(other_tenant.workspace_id)
    their_inbox = await make_inbox(other_tenant.workspace_id)
    for body in ({}, {"keyword": ""}, {"keyword": "   "}, {"keyword": "x" * 1001}, {"keyword": "hi", "x": 1}):
        response = await api.post(url(contact.id), json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await api.post(url(theirs.id), json={"keyword": "hi"})).status_code == 404
    response = await api.post(url(contact.id), json={"keyword": "hi", "inboxId": their_inbox.id})
    assert response.status_code == 404 and response.json()["data"]["resource"] == "inbox"


async def test_bot_reply_leaves_a_pending_conversation_pending(tenant: Tenant) -> None:
    from tests.contact_tags.factories import make_conversation

    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    conversation = await make_conversation(contact, inbox, status="pending")
    await make_keyword(tenant.workspace_id, phrases=["hi"], match_type="is", reply_text="hello")
    assert (await api.post(url(contact.id), json={"keyword": "Hi"})).status_code == 204
    (after_bot,) = await rows(Conversation, Conversation.id == conversation.id)
    assert after_bot.status == "pending"
    # A human writing takes it into the open queue.
    messages = f"/api/v1/contacts/id:{contact.id}/messages"
    assert (await api.post(messages, json={"text": "I am here"})).status_code == 204
    (after_agent,) = await rows(Conversation, Conversation.id == conversation.id)
    assert after_agent.status == "open" and after_agent.admin_replied_at is not None
    assert len(await rows(Message, Message.conversation_id == conversation.id)) == 2
