"""Dispatcher test fixtures: a fake provider, a fresh fake channel per test, no background dispatcher."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from chatbotx.dispatcher import runner
from chatbotx.dispatcher.service import Dispatcher
from chatbotx.inboxes import secrets
from chatbotx.kit import db
from chatbotx.kit.db import utcnow
from chatbotx.models import Contact, ContactInbox, Inbox, Message
from tests.dispatcher.fakechannel import (
    GOOD_TOKEN,
    FakeAdapter,
    FakeProvider,
    registered,
    serve_fake_provider,
)


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeProvider]:
    with serve_fake_provider() as fake:
        yield fake


@pytest.fixture
def fake(fake_server: FakeProvider) -> FakeProvider:
    fake_server.received.clear()
    fake_server.failures.clear()
    fake_server.delay = 0.0
    return fake_server


@pytest.fixture
def adapter(fake: FakeProvider) -> Iterator[FakeAdapter]:
    with registered(fake.base_url) as registered_adapter:
        yield registered_adapter


@pytest.fixture
def window_adapter(fake: FakeProvider) -> Iterator[FakeAdapter]:
    with registered(fake.base_url, window=dt.timedelta(hours=24)) as registered_adapter:
        yield registered_adapter


@pytest.fixture(autouse=True)
async def no_background_dispatcher(app: object) -> AsyncIterator[None]:
    """The app's own dispatcher stands aside: each test drives its dispatchers itself."""
    async with runner.paused():
        yield


async def add(*rows: Any) -> None:
    async with db.get_database().sessionmaker() as session:
        session.add_all(rows)
        await db.commit(session)


async def make_channel(
    workspace_id: str | int,
    adapter: FakeAdapter,
    config: dict[str, Any] | None = None,
    token: str = GOOD_TOKEN,
) -> Inbox:
    inbox = Inbox(
        workspace_id=int(workspace_id),
        name="Fake channel",
        channel=adapter.channel,
        config=config or {},
        credentials=secrets.seal({"token": token}),
    )
    await add(inbox)
    return inbox


async def make_recipient(
    workspace_id: str | int,
    inbox: Inbox,
    source_id: str = "user-1",
    last_inbound_at: dt.datetime | None = None,
) -> tuple[Contact, ContactInbox]:
    contact = Contact(workspace_id=int(workspace_id), first_name=source_id)
    await add(contact)
    identity = ContactInbox(
        contact_id=contact.id,
        inbox_id=inbox.id,
        source_id=source_id,
        last_inbound_at=last_inbound_at or utcnow(),
    )
    await add(identity)
    return contact, identity


async def queue_rows(contact: Contact, inbox: Inbox, count: int, prefix: str = "m") -> list[int]:
    """`count` queued outgoing messages, due now (the queue's own rows, written straight to the database)."""
    from chatbotx.models import Conversation

    conversation = Conversation(workspace_id=contact.workspace_id, contact_id=contact.id, inbox_id=inbox.id)
    await add(conversation)
    now = utcnow()
    messages = [
        Message(
            workspace_id=contact.workspace_id,
            conversation_id=conversation.id,
            contact_id=contact.id,
            inbox_id=inbox.id,
            direction="outgoing",
            sender_type="bot",
            content=f"{prefix}{n}",
            status="queued",
            next_attempt_at=now,
        )
        for n in range(count)
    ]
    await add(*messages)
    return [m.id for m in messages]


async def queue_for_recipients(
    workspace_id: str | int, inbox: Inbox, recipients: int, each: int
) -> list[int]:
    """`each` queued messages to each of `recipients` contacts (source ids user-0, user-1, ...); their ids."""
    ids = []
    for index in range(recipients):
        contact, _ = await make_recipient(workspace_id, inbox, f"user-{index}")
        ids += await queue_rows(contact, inbox, each)
    return ids


async def messages_of(inbox: Inbox) -> list[Message]:
    async with db.get_database().sessionmaker() as session:
        rows = await session.execute(select(Message).where(Message.inbox_id == inbox.id).order_by(Message.id))
        return list(rows.scalars())


async def one(model: type[Any], *where: Any) -> Any:
    async with db.get_database().sessionmaker() as session:
        return (await session.execute(select(model).where(*where))).scalar_one()


def dispatcher(adapter: FakeAdapter, **options: Any) -> Dispatcher:
    return Dispatcher(db.get_database().sessionmaker, channels=[adapter.channel], **options)


def peak_per_window(times: list[float], window: float = 1.0) -> int:
    """The most arrivals within any `window` seconds (a sliding window over the recorded times)."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
