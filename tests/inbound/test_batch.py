"""The inbound job in batches: many events in one transaction, each stored once, in order, with every event
published; receipts applied in order; a bad event isolated; a constant number of statements per batch."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from chatbotx.channels.base import ContactProfile, InboundMessage, InboundStatus
from chatbotx.inbound import batch, codec, store, worker
from chatbotx.kit import db
from chatbotx.kit.db import utcnow
from chatbotx.kit.ids import new_id
from chatbotx.models import Contact, ContactInbox, Conversation, Event, InboundEvent, Inbox, Message
from tests.conftest import Tenant, statements_of_this_task
from tests.inbound import testchan
from tests.inbound.test_pipeline import message_row, outgoing
from tests.inbound.testchan import make_inbox


@pytest.fixture(autouse=True)
def adapter() -> testchan.TestChanAdapter:
    return testchan.install()


async def rows(stmt: Any) -> list[Any]:
    async with db.get_database().sessionmaker() as session:
        return list((await session.execute(stmt)).scalars())


async def stored(inbox: Inbox, events: list[Any]) -> None:
    """Store events as the webhook does, without kicking the job (the test drains)."""
    async with db.get_database().sessionmaker() as session:
        assert await store.store_events(session, inbox.workspace_id, inbox.id, events) == len(events)
        await db.commit(session)


async def raw_row(inbox: Inbox, kind: str, payload: dict[str, Any], key: str) -> None:
    """An InboundEvent row written directly (a dedupe key the codec would not make, or a broken payload)."""
    async with db.get_database().sessionmaker() as session:
        session.add(
            InboundEvent(
                id=new_id(),
                workspace_id=inbox.workspace_id,
                inbox_id=inbox.id,
                dedupe_key=key,
                kind=kind,
                payload=payload,
                status="pending",
                attempts=0,
                received_at=utcnow(),
            )
        )
        await db.commit(session)


def text(sender: str, provider_id: str, body: str, **profile: Any) -> InboundMessage:
    return InboundMessage(
        source_id=sender,
        provider_message_id=provider_id,
        content_type="text",
        text=body,
        profile=ContactProfile(**profile),
    )


async def workspace_events(tenant: Tenant) -> list[Event]:
    return await rows(select(Event).where(Event.workspace_id == int(tenant.workspace_id)).order_by(Event.id))


async def test_one_batch_stores_each_message_once_in_order_with_its_events(tenant: Tenant) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    async with db.get_database().sessionmaker() as session:
        known = Contact(workspace_id=int(tenant.workspace_id), phone_number="+16505551234", first_name="Kept")
        session.add(known)
        await db.commit(session)
    events = [
        text(
            f"s{i % 3}",
            f"p{i}",
            str(i),
            first_name=f"F{i % 3}",
            phone_number="16505551234" if i == 2 else None,
        )
        for i in range(30)
    ]
    await stored(inbox, events)
    # The same provider message again in the same batch (under another dedupe key): stored once.
    await raw_row(inbox, codec.MESSAGE, codec.encode(text("s0", "p0", "again")), "message:p0:again")

    assert await worker.drain(inbox.id) == 31
    messages = await rows(select(Message).where(Message.inbox_id == inbox.id).order_by(Message.id))
    assert [m.content for m in messages] == [str(i) for i in range(30)]  # "again" was not stored
    pending = await rows(
        select(func.count())
        .select_from(InboundEvent)
        .where(InboundEvent.inbox_id == inbox.id, InboundEvent.status != "processed")
    )
    assert pending == [0]
    contacts = await rows(select(Contact).where(Contact.workspace_id == int(tenant.workspace_id)))
    assert len(contacts) == 3  # s2 linked to the contact with that phone number
    (linked,) = [c for c in contacts if c.id == known.id]
    assert linked.first_name == "Kept" and linked.last_interaction_at is not None  # never overwritten
    conversations = await rows(select(Conversation).where(Conversation.inbox_id == inbox.id))
    assert len(conversations) == 3
    for conversation in conversations:
        mine = [int(m.content) for m in messages if m.conversation_id == conversation.id]
        assert mine == sorted(mine) and len(mine) == 10
    links = await rows(select(ContactInbox).where(ContactInbox.inbox_id == inbox.id))
    assert sorted(ci.source_id for ci in links) == ["s0", "s1", "s2"]
    assert all(ci.last_inbound_at is not None for ci in links)

    published = await workspace_events(tenant)
    types = [e.type for e in published]
    # As one event at a time: contact (new ones only), conversation created then updated, message.
    assert types[:8] == [
        "contact.created",
        "conversation.created",
        "message.created",
        "contact.created",
        "conversation.created",
        "message.created",
        "conversation.created",  # s2's contact existed (linked by phone)
        "message.created",
    ]
    assert types.count("message.created") == 30 and types.count("conversation.updated") == 27
    assert [e.payload["content"] for e in published if e.type == "message.created"] == [
        str(i) for i in range(30)
    ]
    created = [e.payload for e in published if e.type == "contact.created"]
    assert [c["firstName"] for c in created] == ["F0", "F1"] and all("tags" in c for c in created)
    assert [e.id for e in published] == sorted(e.id for e in published)


async def test_receipts_in_one_batch_apply_in_order_and_unknown_ones_wait(tenant: Tenant) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    await stored(inbox, [text("u1", "in-1", "hello")])
    await worker.drain(inbox.id)
    sent = await outgoing(inbox, "out-1")
    receipts = [
        InboundStatus(provider_message_id="out-1", status="delivered"),
        InboundStatus(provider_message_id="out-1", status="read"),
        InboundStatus(provider_message_id="out-1", status="sent"),  # late: ignored
        InboundStatus(provider_message_id="out-unknown", status="delivered"),
    ]
    await stored(inbox, receipts)
    await raw_row(inbox, codec.STATUS, {"status": "read"}, "status:broken")  # no provider id: undecodable

    assert await worker.drain(inbox.id) == 3
    row = await message_row(sent.id)
    assert row.status == "read" and row.delivered_at is not None and row.read_at is not None
    updated = [e.payload["status"] for e in await workspace_events(tenant) if e.type == "message.updated"]
    assert updated == ["delivered", "read"]
    left = {
        e.dedupe_key: (e.status, e.attempts, bool(e.error))
        for e in await rows(select(InboundEvent).where(InboundEvent.inbox_id == inbox.id))
        if e.status != "processed"
    }
    assert left == {
        "status:out-unknown:delivered": ("pending", 1, True),  # the sweeper retries it
        "status:broken": ("failed", 1, True),
    }


async def test_a_failing_event_does_not_hold_back_its_batch(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    real = batch.store_attachments

    async def store_attachments(session: Any, workspace_id: int, downloads: list[Any]) -> Any:
        if any(d.attachment.provider_file_id == "poison" for d in downloads):
            raise RuntimeError("disk full")
        return await real(session, workspace_id, downloads)

    monkeypatch.setattr(batch, "store_attachments", store_attachments)
    events = [text("u2", f"m{i}", str(i)) for i in range(5)]
    events[2].attachments.append(testchan.Attachment(kind="image", provider_file_id="poison"))
    events[3].attachments.append(testchan.Attachment(kind="image", provider_file_id="fine"))
    await stored(inbox, events)

    assert await worker.drain(inbox.id) == 4
    messages = await rows(select(Message).where(Message.inbox_id == inbox.id).order_by(Message.id))
    assert [m.content for m in messages] == ["0", "1", "3", "4"]
    assert messages[2].attachments[0]["fileId"]
    (left,) = await rows(
        select(InboundEvent).where(InboundEvent.inbox_id == inbox.id, InboundEvent.status != "processed")
    )
    assert (left.dedupe_key, left.status, left.attempts) == ("message:m2", "pending", 1)
    assert "disk full" in (left.error or "")


async def test_statements_per_batch_do_not_grow_with_its_size(tenant: Tenant) -> None:
    counts = []
    for size in (5, 60):
        inbox = await make_inbox(tenant.workspace_id)
        await stored(
            inbox,
            [text(f"new-{size}-{i}", f"{size}-{i}", "x", phone_number="14155550199") for i in range(size)],
        )
        await stored(inbox, [text(f"old-{size}-{i % 3}", f"{size}-{i}-b", "y") for i in range(size)])
        await worker.drain(inbox.id)  # the second half's senders exist by the measured batch
        await stored(inbox, [text(f"old-{size}-{i % 3}", f"{size}-{i}-c", "z") for i in range(size)])
        await stored(inbox, [text(f"new2-{size}-{i}", f"{size}-{i}-d", "w") for i in range(size)])
        with statements_of_this_task() as seen:
            assert await worker.drain(inbox.id) == 2 * size
        counts.append(len(seen))
    assert 0 < counts[0] == counts[1], counts
