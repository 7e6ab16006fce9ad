"""The inbound job: webhook -> stored -> contact / conversation / message / events, statuses, crash safety."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from chatbotx.channels.base import InboundMessage
from chatbotx.inbound import store, worker
from chatbotx.inbound.service import next_status
from chatbotx.kit import db
from chatbotx.kit.db import utcnow
from chatbotx.models import Contact, ContactInbox, Conversation, Event, InboundEvent, Inbox, Message
from tests.conftest import Tenant
from tests.inbound import testchan
from tests.inbound.testchan import make_inbox, message, post
from tests.polling import wait_for


@pytest.fixture(autouse=True)
def adapter() -> testchan.TestChanAdapter:
    return testchan.install()


async def rows(stmt: Any) -> list[Any]:
    async with db.get_database().sessionmaker() as session:
        return list((await session.execute(stmt)).scalars())


async def messages(inbox: Inbox) -> list[Message]:
    return await rows(select(Message).where(Message.inbox_id == inbox.id).order_by(Message.id))


async def events(tenant: Tenant, type: str | None = None) -> list[Event]:
    stmt = select(Event).where(Event.workspace_id == int(tenant.workspace_id)).order_by(Event.id)
    if type:
        stmt = stmt.where(Event.type == type)
    return await rows(stmt)


async def processed(inbox: Inbox, n: int) -> bool:
    pending = await rows(
        select(func.count())
        .select_from(InboundEvent)
        .where(InboundEvent.inbox_id == inbox.id, InboundEvent.status == "processed")
    )
    return pending[0] >= n


async def deliver(client: httpx.AsyncClient, inbox: Inbox, body: dict[str, Any], total: int) -> None:
    """Post a webhook and wait until `total` events of the inbox are processed."""
    answer = await post(client, inbox, body)
    assert answer.status_code == 200, answer.text
    await wait_for(lambda: processed(inbox, total))


async def test_first_message_creates_contact_conversation_message_and_events(
    tenant: Tenant, anon: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    first = message("chat-42", "Hello there", firstName="Sojan", lastName="Jose", ts=1_700_000_000)
    await deliver(anon, inbox, {"messages": [first]}, 1)

    (contact_inbox,) = await rows(select(ContactInbox).where(ContactInbox.inbox_id == inbox.id))
    assert contact_inbox.source_id == "chat-42"
    assert contact_inbox.last_inbound_at == dt.datetime.fromtimestamp(1_700_000_000, dt.UTC)
    contact = (await api.get(f"/api/v1/contacts/{contact_inbox.contact_id}")).json()
    assert (contact["firstName"], contact["lastName"], contact["fullName"]) == ("Sojan", "Jose", "Sojan Jose")
    assert contact["source"] == "testchan"
    (conversation,) = await rows(select(Conversation).where(Conversation.inbox_id == inbox.id))
    assert conversation.status == "open" and conversation.contact_replied_at is not None
    (stored,) = await messages(inbox)
    assert (stored.direction, stored.sender_type, stored.content, stored.provider_message_id) == (
        "incoming",
        "contact",
        "Hello there",
        first["id"],
    )
    assert stored.conversation_id == conversation.id and stored.contact_id == contact_inbox.contact_id
    types = [e.type for e in await events(tenant)]
    assert types == ["contact.created", "conversation.created", "message.created"]
    created = (await events(tenant, "message.created"))[0].payload
    assert created["content"] == "Hello there" and created["conversationId"] == str(conversation.id)

    # The same person again: same contact and conversation, no new contact event.
    await deliver(anon, inbox, {"messages": [message("chat-42", "Second")]}, 2)
    assert [m.content for m in await messages(inbox)] == ["Hello there", "Second"]
    assert len(await rows(select(Conversation).where(Conversation.inbox_id == inbox.id))) == 1
    assert [e.type for e in await events(tenant)][3:] == ["conversation.updated", "message.created"]
    assert len(await rows(select(Contact).where(Contact.workspace_id == int(tenant.workspace_id)))) == 1


async def test_resolved_and_snoozed_conversations_reopen(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    await deliver(anon, inbox, {"messages": [message("u7")]}, 1)
    for n, status in enumerate(("resolved", "snoozed"), start=2):
        async with db.get_database().sessionmaker() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.inbox_id == inbox.id)
                .values(status=status, snoozed_until=utcnow())
            )
            await db.commit(session)
        await deliver(anon, inbox, {"messages": [message("u7", f"back {n}")]}, n)
        (conversation,) = await rows(select(Conversation).where(Conversation.inbox_id == inbox.id))
        assert conversation.status == "open" and conversation.snoozed_until is None
        changed = (await events(tenant, "conversation.status_changed"))[-1].payload
        assert changed["status"] == "open" and changed["previousStatus"] == status


async def test_pending_conversation_stays_pending(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    await deliver(anon, inbox, {"messages": [message("u8")]}, 1)
    async with db.get_database().sessionmaker() as session:
        await session.execute(
            update(Conversation).where(Conversation.inbox_id == inbox.id).values(status="pending")
        )
        await db.commit(session)
    await deliver(anon, inbox, {"messages": [message("u8", "more")]}, 2)
    (conversation,) = await rows(select(Conversation).where(Conversation.inbox_id == inbox.id))
    assert conversation.status == "pending"


async def test_phone_profile_links_an_existing_contact(
    tenant: Tenant, anon: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    existing = await api.post("/api/v1/contacts", json={"phoneNumber": "+16505551234", "firstName": "Known"})
    assert existing.status_code in (200, 201), existing.text
    inbox = await make_inbox(tenant.workspace_id)
    await deliver(
        anon, inbox, {"messages": [message("16505551234", phone="16505551234", firstName="Sheena")]}, 1
    )
    (contact_inbox,) = await rows(select(ContactInbox).where(ContactInbox.inbox_id == inbox.id))
    assert str(contact_inbox.contact_id) == existing.json()["id"]
    contact = (await api.get(f"/api/v1/contacts/{contact_inbox.contact_id}")).json()
    assert contact["firstName"] == "Known"  # the workspace's data wins over the channel profile
    # Only the API's own creation of the contact: the inbound message created none.
    created = await events(tenant, "contact.created")
    assert [event.payload["id"] for event in created] == [existing.json()["id"]]

    await deliver(anon, inbox, {"messages": [message("4915112345678", phone="4915112345678")]}, 2)
    new = await rows(
        select(Contact).where(
            Contact.workspace_id == int(tenant.workspace_id), Contact.phone_number == "+4915112345678"
        )
    )
    assert len(new) == 1
    created_ids = [event.payload["id"] for event in await events(tenant, "contact.created")]
    assert created_ids == [existing.json()["id"], str(new[0].id)]  # the API's, then the inbound one


async def test_attachments_are_downloaded_and_stored(
    tenant: Tenant, anon: httpx.AsyncClient, api: httpx.AsyncClient, adapter: testchan.TestChanAdapter
) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    photo = message("u9", None, media=[{"id": "media-1", "mime": "image/jpeg"}])
    await deliver(anon, inbox, {"messages": [photo]}, 1)
    (stored,) = await messages(inbox)
    assert stored.content_type == "image"
    (attachment,) = stored.attachments
    assert attachment["type"] == "image" and attachment["contentType"] == "image/jpeg"
    assert attachment["url"].endswith(f"/api/v1/files/{attachment['fileId']}/content")
    content = await api.get(f"/api/v1/files/{attachment['fileId']}/content")
    assert content.status_code == 200 and content.content == b"bytes of media-1"

    adapter.fail_downloads = True
    await deliver(anon, inbox, {"messages": [message("u9", "see pic", media=[{"id": "media-2"}])]}, 2)
    second = (await messages(inbox))[-1]
    assert second.content == "see pic"
    assert second.attachments[0]["error"] == "media gone" and "fileId" not in second.attachments[0]


async def outgoing(inbox: Inbox, provider_id: str, status: str = "sent") -> Message:
    """An outgoing message as the dispatcher leaves it after a send."""
    async with db.get_database().sessionmaker() as session:
        contact = await session.scalar(
            select(Contact).join(ContactInbox).where(ContactInbox.inbox_id == inbox.id)
        )
        assert contact is not None
        conversation = await session.scalar(select(Conversation).where(Conversation.inbox_id == inbox.id))
        assert conversation is not None
        row = Message(
            workspace_id=inbox.workspace_id,
            conversation_id=conversation.id,
            contact_id=contact.id,
            inbox_id=inbox.id,
            direction="outgoing",
            sender_type="agent",
            content="out",
            status=status,
            provider_message_id=provider_id,
        )
        session.add(row)
        await db.commit(session)
    return row


async def message_row(message_id: int) -> Message:
    (row,) = await rows(select(Message).where(Message.id == message_id))
    return row


def test_statuses_only_move_forward() -> None:
    assert next_status("queued", "sent") == "sent"
    assert next_status("sent", "read") == "read"
    assert next_status("read", "delivered") is None
    assert next_status("delivered", "sent") is None
    assert next_status("sent", "failed") == "failed"
    assert next_status("delivered", "failed") is None
    assert next_status("failed", "read") is None


async def test_statuses_move_messages_forward_only(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    await deliver(anon, inbox, {"messages": [message("u10")]}, 1)
    sent = await outgoing(inbox, "out-1")
    await deliver(anon, inbox, {"statuses": [{"id": "out-1", "status": "delivered"}]}, 2)
    assert (await message_row(sent.id)).status == "delivered"
    await deliver(
        anon, inbox, {"statuses": [{"id": "out-1", "status": "read"}, {"id": "out-1", "status": "sent"}]}, 4
    )
    row = await message_row(sent.id)
    assert row.status == "read" and row.read_at is not None and row.delivered_at is not None
    await deliver(
        anon, inbox, {"statuses": [{"id": "out-1", "status": "failed", "error": "PROVIDER_ERROR"}]}, 5
    )
    assert (await message_row(sent.id)).status == "read"
    updates = [e.payload for e in await events(tenant, "message.updated")]
    assert [u["status"] for u in updates] == ["delivered", "read"]
    assert {u["id"] for u in updates} == {str(sent.id)}


async def test_blocked_by_user_marks_the_contact_unreachable(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    await deliver(anon, inbox, {"messages": [message("u11")]}, 1)
    sent = await outgoing(inbox, "out-2")
    failed = {
        "id": "out-2",
        "status": "failed",
        "error": "BLOCKED_BY_USER",
        "errorMessage": "bot was blocked by the user",
    }
    await deliver(anon, inbox, {"statuses": [failed]}, 2)
    row = await message_row(sent.id)
    assert (row.status, row.error_code, row.error) == (
        "failed",
        "BLOCKED_BY_USER",
        "bot was blocked by the user",
    )
    (contact_inbox,) = await rows(select(ContactInbox).where(ContactInbox.inbox_id == inbox.id))
    assert contact_inbox.unreachable_at is not None and contact_inbox.unreachable_reason == "BLOCKED_BY_USER"
    # Writing again makes the contact reachable again.
    await deliver(anon, inbox, {"messages": [message("u11", "unblocked")]}, 3)
    (contact_inbox,) = await rows(select(ContactInbox).where(ContactInbox.inbox_id == inbox.id))
    assert contact_inbox.unreachable_at is None


async def test_receipt_before_its_message_is_known_waits_for_the_sweeper(
    tenant: Tenant, anon: httpx.AsyncClient
) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    await deliver(anon, inbox, {"messages": [message("u12")]}, 1)
    answer = await post(anon, inbox, {"statuses": [{"id": "out-early", "status": "delivered"}]})
    assert answer.json()["stored"] == 1

    async def attempted() -> bool:
        (row,) = await rows(
            select(InboundEvent).where(InboundEvent.inbox_id == inbox.id, InboundEvent.kind == "status")
        )
        return row.attempts == 1

    await wait_for(attempted)
    sent = await outgoing(inbox, "out-early")
    kicked = await worker.sweep(worker_kick, older_than=dt.timedelta(0))
    assert inbox.id in kicked
    assert (await message_row(sent.id)).status == "delivered"


async def worker_kick(inbox_id: int) -> None:
    await worker.process_inbox(inbox_id)


async def test_an_event_left_pending_by_a_crash_is_picked_up_by_the_sweeper(tenant: Tenant) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    # Stored and committed, but the process died before the job ran (no kick).
    event = InboundMessage(source_id="u13", provider_message_id="lost-1", content_type="text", text="lost?")
    async with db.get_database().sessionmaker() as session:
        assert await store.store_events(session, inbox.workspace_id, inbox.id, [event]) == 1
        await session.execute(
            update(InboundEvent)
            .where(InboundEvent.inbox_id == inbox.id)
            .values(received_at=utcnow() - dt.timedelta(minutes=5))
        )
        await db.commit(session)
    assert inbox.id not in await worker.stale_inboxes(dt.timedelta(hours=1))
    assert inbox.id in await worker.stale_inboxes()
    from chatbotx.inbound import tasks

    assert inbox.id in await worker.sweep(tasks.kick)  # through the broker, as in production
    await wait_for(lambda: processed(inbox, 1))
    assert [m.content for m in await messages(inbox)] == ["lost?"]
    assert inbox.id not in await worker.stale_inboxes(dt.timedelta(0))


async def test_concurrent_workers_store_each_message_once_in_order(tenant: Tenant) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    batch = [
        InboundMessage(source_id=f"s{i % 3}", provider_message_id=f"p{i}", content_type="text", text=str(i))
        for i in range(30)
    ]
    async with db.get_database().sessionmaker() as session:
        assert await store.store_events(session, inbox.workspace_id, inbox.id, batch) == 30
        await db.commit(session)
    # Two drains at once (as two worker processes would): each event is claimed by exactly one.
    handled = await asyncio.gather(worker.drain(inbox.id), worker.drain(inbox.id))
    assert sum(handled) == 30
    stored = await messages(inbox)
    assert sorted(int(m.content or "") for m in stored) == list(range(30))
    for sender in ("s0", "s1", "s2"):
        mine = [
            int(m.content or "")
            for m in stored
            if m.provider_message_id and int(m.content or "") % 3 == int(sender[1])
        ]
        assert mine == sorted(mine)  # one contact's messages keep the provider's order
    assert len(await rows(select(Contact).where(Contact.workspace_id == int(tenant.workspace_id)))) == 3
    assert len(await rows(select(Conversation).where(Conversation.inbox_id == inbox.id))) == 3


async def test_a_kick_while_draining_asks_that_drain_for_another_pass(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook stored while this process drains the inbox makes the drain pass again (in order, without a
    job message through the broker); with no drain running, the kick goes to the broker."""
    from chatbotx.inbound import tasks

    inbox = await make_inbox(tenant.workspace_id)
    sent: list[int] = []

    async def kiq(inbox_id: int) -> None:
        sent.append(inbox_id)

    monkeypatch.setattr(tasks.process, "kiq", kiq)
    real_drain = worker.drain
    passes: list[int] = []

    async def drain(inbox_id: int) -> int:
        passes.append(inbox_id)
        handled = await real_drain(inbox_id)
        if len(passes) == 1:  # a webhook arrives while this pass runs
            late = InboundMessage(source_id="u1", provider_message_id="late-1", content_type="text", text="2")
            async with db.get_database().sessionmaker() as session:
                assert await store.store_events(session, inbox.workspace_id, inbox.id, [late]) == 1
                await db.commit(session)
            await tasks.kick_now(inbox_id)
        return handled

    monkeypatch.setattr(worker, "drain", drain)
    first = InboundMessage(source_id="u1", provider_message_id="first-1", content_type="text", text="1")
    async with db.get_database().sessionmaker() as session:
        assert await store.store_events(session, inbox.workspace_id, inbox.id, [first]) == 1
        await db.commit(session)
    assert await worker.process_inbox(inbox.id) == 2
    assert len(passes) == 2 and sent == []
    assert [m.content for m in await messages(inbox)] == ["1", "2"]
    await tasks.kick_now(inbox.id)  # nothing drains it now
    assert sent == [inbox.id]
