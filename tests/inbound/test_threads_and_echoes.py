"""Threaded channels (email) join the conversation a message answers; echoes of the business's own messages
are stored as outgoing and open nothing; a sender's address links them to the contact with that email."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from chatbotx.channels.base import ContactProfile, InboundMessage
from chatbotx.inbound import worker
from chatbotx.kit import db
from chatbotx.models import Contact, ContactInbox, Conversation, InboundEvent, Message
from tests.conftest import Tenant
from tests.inbound import testchan
from tests.inbound.test_batch import rows, stored, workspace_events
from tests.inbound.test_pipeline import outgoing
from tests.inbound.testchan import make_inbox


@pytest.fixture(autouse=True)
def adapter() -> testchan.TestChanAdapter:
    return testchan.install()


def mail(sender: str, message_id: str, body: str, thread: list[str], **profile: Any) -> InboundMessage:
    return InboundMessage(
        source_id=sender,
        provider_message_id=message_id,
        content_type="text",
        text=body,
        thread=thread,
        profile=ContactProfile(**profile),
    )


async def conversation_of(inbox_id: int, provider_id: str) -> Conversation:
    (message,) = await rows(
        select(Message).where(Message.inbox_id == inbox_id, Message.provider_message_id == provider_id)
    )
    (conversation,) = await rows(select(Conversation).where(Conversation.id == message.conversation_id))
    return conversation


async def test_a_threaded_message_joins_the_conversation_it_answers_else_starts_one(tenant: Tenant) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    await stored(
        inbox,
        [
            mail("ann@example.com", "<a1@x>", "first thread", []),
            mail("ann@example.com", "<b1@x>", "second thread", []),
            # Answers a1 (References newest first: the unknown one is skipped), in the same batch.
            mail("ann@example.com", "<a2@x>", "re first", ["<unknown@x>", "<a1@x>"]),
        ],
    )
    assert await worker.drain(inbox.id) == 3
    first, second = await conversation_of(inbox.id, "<a1@x>"), await conversation_of(inbox.id, "<b1@x>")
    assert first.id != second.id
    assert (await conversation_of(inbox.id, "<a2@x>")).id == first.id

    async with db.get_database().sessionmaker() as session:
        (await session.get(Conversation, first.id)).status = "resolved"  # type: ignore[union-attr]
        await db.commit(session)
    # A later batch: a reply to the resolved thread reopens it; a reply to b1 joins the second one.
    await stored(
        inbox,
        [
            mail("ann@example.com", "<a3@x>", "re re first", ["<a2@x>", "<a1@x>"]),
            mail("ann@example.com", "<b2@x>", "re second", ["<b1@x>"]),
        ],
    )
    assert await worker.drain(inbox.id) == 2
    reopened = await conversation_of(inbox.id, "<a3@x>")
    assert reopened.id == first.id and reopened.status == "open"
    assert (await conversation_of(inbox.id, "<b2@x>")).id == second.id
    changed = [
        e.payload["id"] for e in await workspace_events(tenant) if e.type == "conversation.status_changed"
    ]
    assert changed == [str(first.id)]


async def test_a_reference_to_another_contacts_thread_starts_a_new_conversation(tenant: Tenant) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    await stored(inbox, [mail("ann@example.com", "<a1@x>", "hello", [])])
    await worker.drain(inbox.id)
    # Bob forwards Ann's mail: it references her thread, but it is not his conversation.
    await stored(inbox, [mail("bob@example.com", "<f1@x>", "fwd", ["<a1@x>"])])
    await worker.drain(inbox.id)
    ann, bob = await conversation_of(inbox.id, "<a1@x>"), await conversation_of(inbox.id, "<f1@x>")
    assert ann.id != bob.id and ann.contact_id != bob.contact_id


async def test_a_sender_address_links_the_contact_with_that_email_and_fills_it(tenant: Tenant) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    async with db.get_database().sessionmaker() as session:
        known = Contact(workspace_id=int(tenant.workspace_id), email="Kim@example.com", first_name="Kim")
        session.add(known)
        await db.commit(session)
    await stored(
        inbox,
        [
            mail("kim@example.com", "<k1@x>", "hi", [], email="Kim@Example.com", first_name="Other"),
            mail("new@example.com", "<n1@x>", "hi", [], email="new@example.com", first_name="New"),
            mail("bad", "<z1@x>", "hi", [], email="not an address"),
        ],
    )
    assert await worker.drain(inbox.id) == 3
    linked = await conversation_of(inbox.id, "<k1@x>")
    assert linked.contact_id == known.id
    (kim,) = await rows(select(Contact).where(Contact.id == known.id))
    assert kim.first_name == "Kim"  # never overwritten
    fresh = await conversation_of(inbox.id, "<n1@x>")
    (new,) = await rows(select(Contact).where(Contact.id == fresh.contact_id))
    assert (new.email, new.first_name) == ("new@example.com", "New")
    (bad,) = await rows(
        select(Contact).where(Contact.id == (await conversation_of(inbox.id, "<z1@x>")).contact_id)
    )
    assert bad.email is None


async def test_an_echo_is_stored_as_outgoing_and_neither_reopens_nor_opens_the_window(tenant: Tenant) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    await stored(inbox, [InboundMessage("psid-1", "m-in", "text", text="hello")])
    await worker.drain(inbox.id)
    (link,) = await rows(select(ContactInbox).where(ContactInbox.inbox_id == inbox.id))
    window_start = link.last_inbound_at
    conversation = await conversation_of(inbox.id, "m-in")
    async with db.get_database().sessionmaker() as session:
        (await session.get(Conversation, conversation.id)).status = "resolved"  # type: ignore[union-attr]
        await db.commit(session)

    echo = InboundMessage("psid-1", "m-echo", "text", text="sent from the Page inbox", echo=True)
    await stored(inbox, [echo])
    assert await worker.drain(inbox.id) == 1
    (message,) = await rows(select(Message).where(Message.provider_message_id == "m-echo"))
    assert (message.direction, message.sender_type, message.status) == ("outgoing", "agent", "sent")
    assert message.conversation_id == conversation.id and message.content_attributes["echo"] is True
    after = await conversation_of(inbox.id, "m-echo")
    assert after.status == "resolved" and after.admin_replied_at is not None
    (link,) = await rows(select(ContactInbox).where(ContactInbox.inbox_id == inbox.id))
    assert link.last_inbound_at == window_start

    # An echo to someone who never wrote: a contact and a conversation, but no window.
    await stored(inbox, [InboundMessage("psid-2", "m-echo-2", "text", text="hi", echo=True)])
    await worker.drain(inbox.id)
    (second,) = await rows(
        select(ContactInbox).where(ContactInbox.inbox_id == inbox.id, ContactInbox.source_id == "psid-2")
    )
    assert second.last_inbound_at is None


async def test_an_echo_waits_while_we_send_to_that_contact_so_our_own_is_not_stored_twice(
    tenant: Tenant,
) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    await stored(inbox, [InboundMessage("igsid-1", "m-in", "text", text="hello")])
    await worker.drain(inbox.id)
    sending = await outgoing(inbox, "m-ours", status="queued")  # sent, provider id not recorded yet
    async with db.get_database().sessionmaker() as session:
        (await session.get_one(Message, sending.id)).provider_message_id = None
        await db.commit(session)

    # Instagram echoes our send before the dispatcher has committed its provider id: the echo waits.
    await stored(inbox, [InboundMessage("igsid-1", "m-ours", "text", text="out", echo=True)])
    assert await worker.drain(inbox.id) == 0
    (waiting,) = await rows(select(InboundEvent).where(InboundEvent.dedupe_key == "message:m-ours"))
    assert waiting.status == "pending" and "echo waits" in (waiting.error or "")

    async with db.get_database().sessionmaker() as session:  # the dispatcher records the send
        row = await session.get_one(Message, sending.id)
        row.status, row.provider_message_id = "sent", "m-ours"
        await db.commit(session)
    assert await worker.drain(inbox.id) == 1  # handled: a repeat of our own message
    ours = await rows(select(Message).where(Message.inbox_id == inbox.id, Message.direction == "outgoing"))
    assert [m.id for m in ours] == [sending.id]
