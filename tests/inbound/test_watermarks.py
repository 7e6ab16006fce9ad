"""Watermark receipts: one "everything before T" receipt becomes a receipt per outgoing message it covers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from chatbotx.channels.base import InboundMessage, InboundStatus
from chatbotx.channels.meta import watermark_id
from chatbotx.inbound import store, watermarks, worker
from chatbotx.kit import db
from chatbotx.models import Message
from tests.conftest import Tenant
from tests.inbound import testchan
from tests.inbound.test_pipeline import outgoing
from tests.inbound.testchan import make_inbox

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def adapter() -> testchan.TestChanAdapter:
    return testchan.install()


async def sent_at(message: Message, at: dt.datetime, status: str | None = None) -> None:
    async with db.get_database().sessionmaker() as session:
        values = {"sent_at": at} if status is None else {"sent_at": at, "status": status}
        await session.execute(update(Message).where(Message.id == message.id).values(**values))
        await db.commit(session)


async def test_a_watermark_covers_the_earlier_messages_not_yet_there(tenant: Tenant) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    async with db.get_database().sessionmaker() as session:
        hello = InboundMessage("psid-1", "in-1", "text", text="hello")
        await store.store_events(session, inbox.workspace_id, inbox.id, [hello])
        await db.commit(session)
    await worker.drain(inbox.id)
    early = await outgoing(inbox, "m_early")
    delivered = await outgoing(inbox, "m_delivered", status="delivered")
    already_read = await outgoing(inbox, "m_read", status="read")
    late = await outgoing(inbox, "m_late")
    await sent_at(early, NOW - dt.timedelta(minutes=5))
    await sent_at(delivered, NOW - dt.timedelta(minutes=4))
    await sent_at(already_read, NOW - dt.timedelta(minutes=3))
    await sent_at(late, NOW + dt.timedelta(minutes=1))
    ms = int(NOW.timestamp() * 1000)
    plain = InboundStatus("m_other", "delivered")
    read = InboundStatus(watermark_id("psid-1", ms), "read", recipient_source_id="psid-1", at=NOW)
    delivery = InboundStatus(watermark_id("psid-1", ms), "delivered", recipient_source_id="psid-1", at=NOW)
    stranger = InboundStatus(watermark_id("psid-2", ms), "read", recipient_source_id="psid-2", at=NOW)
    async with db.get_database().sessionmaker() as session:
        expanded = await watermarks.expand(
            session, inbox.id, [("row-1", plain), ("row-2", read), ("row-3", delivery), ("row-4", stranger)]
        )
    assert [(row, s.provider_message_id, s.status, s.at) for row, s in expanded] == [
        ("row-1", "m_other", "delivered", None),  # a receipt of one message passes through
        ("row-2", "m_early", "read", NOW),
        ("row-2", "m_delivered", "read", NOW),
        ("row-3", "m_early", "delivered", NOW),  # the delivered one is not delivered again
    ]
