"""The IMAP poller: one poller at a time per inbox (the ChannelPoll lease), the schedule, and failures
(backoff; refused credentials put the channel in needs_attention), against a real dovecot."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import update

from chatbotx.channels import email_poll
from chatbotx.inboxes import secrets
from chatbotx.kit import db
from chatbotx.models import ChannelPoll, Inbox
from tests.conftest import Tenant
from tests.fakes.mail import (
    QUIET_SMTP,
    Dovecot,
    FakeSmtp,
    Mailbox,
    channel_config,
    mail,
    run_dovecot,
    run_smtp,
)

pytestmark = QUIET_SMTP


@pytest.fixture(scope="module")
def imap_server() -> Iterator[Dovecot]:
    with run_dovecot() as server:
        yield server


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[FakeSmtp]:
    with run_smtp() as server:
        yield server


@pytest.fixture(autouse=True)
async def no_background_polling(app: object) -> AsyncIterator[None]:
    await email_poll.stop()
    yield
    email_poll.start()


async def connect(tenant: Tenant, box: Mailbox, smtp: FakeSmtp) -> int:
    answer = await tenant.client.post(
        "/api/v1/channels", json={"name": "Mail", "channel": "smtp", "config": channel_config(box, smtp)}
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


async def poll_row(inbox_id: int) -> ChannelPoll:
    async with db.get_database().sessionmaker() as session:
        return await session.get_one(ChannelPoll, inbox_id)


async def test_one_poller_at_a_time(tenant: Tenant, imap_server: Dovecot, smtp_server: FakeSmtp) -> None:
    box = imap_server.add_mailbox()
    inbox_id = await connect(tenant, box, smtp_server)
    for n in range(3):
        box.append(mail(message_id=f"<lease-{n}@example.org>"))
    assert inbox_id in await email_poll.due_inboxes()
    results = await asyncio.gather(*(email_poll.poll_inbox(inbox_id) for _ in range(4)))
    polled = [r for r in results if r is not None]
    assert len(polled) == 1 and (polled[0].fetched, polled[0].stored) == (3, 3)
    row = await poll_row(inbox_id)
    assert row.leased_until is None and row.state["lastUid"] == 3 and row.failures == 0
    assert inbox_id not in await email_poll.due_inboxes()  # polled: next in CHATBOTX_IMAP_POLL_SECONDS
    assert await email_poll.poll_inbox(inbox_id) is None  # not due
    # A lease held elsewhere (another worker) keeps this process off, even when forced.
    async with db.get_database().sessionmaker() as session:
        until = db.utcnow() + dt.timedelta(minutes=1)
        await session.execute(
            update(ChannelPoll).where(ChannelPoll.inbox_id == inbox_id).values(leased_until=until)
        )
        await db.commit(session)
    assert await email_poll.poll_inbox(inbox_id, force=True) is None
    assert await email_poll.poll_now(inbox_id, wait=0.2) is None


async def test_refused_credentials_back_off_and_need_attention(
    tenant: Tenant, imap_server: Dovecot, smtp_server: FakeSmtp
) -> None:
    box = imap_server.add_mailbox()
    inbox_id = await connect(tenant, box, smtp_server)
    async with db.get_database().sessionmaker() as session:  # the password was changed on the server
        inbox = await session.get_one(Inbox, inbox_id)
        inbox.credentials = secrets.seal({**secrets.unseal(inbox.credentials), "imapPassword": "outdated"})
        await db.commit(session)
    assert await email_poll.poll_now(inbox_id) is None
    row = await poll_row(inbox_id)
    assert row.failures == 1 and row.leased_until is None
    assert row.last_error is not None and "refused the user name or password" in row.last_error
    assert row.next_poll_at is not None and row.next_poll_at > db.utcnow()
    async with db.get_database().sessionmaker() as session:
        inbox = await session.get_one(Inbox, inbox_id)
    assert inbox.status == "needs_attention" and "IMAP" in (inbox.status_reason or "")
    assert inbox_id not in await email_poll.due_inboxes()  # only active channels are polled
    channel = (await tenant.client.get(f"/api/v1/channels/{inbox_id}")).json()
    assert channel["status"] == "needs_attention"

    # The admin fixes the password: connecting again re-activates the channel, polled at once (no backoff).
    box.append(mail(message_id="<after-fix@example.org>"))
    fixed = await tenant.client.put(
        f"/api/v1/channels/{inbox_id}", json={"config": {"imapPassword": box.password}}
    )
    assert fixed.status_code == 200 and fixed.json()["status"] == "active", fixed.text
    assert inbox_id in await email_poll.due_inboxes()
    result = await email_poll.poll_inbox(inbox_id)
    assert result is not None and result.stored == 1
    assert (await poll_row(inbox_id)).failures == 0


async def test_an_unreachable_server_is_retried_later(
    tenant: Tenant, imap_server: Dovecot, smtp_server: FakeSmtp
) -> None:
    box = imap_server.add_mailbox()
    inbox_id = await connect(tenant, box, smtp_server)
    async with db.get_database().sessionmaker() as session:
        inbox = await session.get_one(Inbox, inbox_id)
        inbox.config = {**inbox.config, "imapPort": 1}
        await db.commit(session)
    for attempt in (1, 2):
        assert await email_poll.poll_now(inbox_id) is None
        row = await poll_row(inbox_id)
        assert row.failures == attempt and "could not be reached" in (row.last_error or "")
        assert row.next_poll_at is not None
        delay = (row.next_poll_at - db.utcnow()).total_seconds()
        assert (
            email_poll.poll_interval() * 2 ** (attempt - 1) - 5
            < delay
            <= email_poll.poll_interval() * 2**attempt
        )
    async with db.get_database().sessionmaker() as session:
        assert (await session.get_one(Inbox, inbox_id)).status == "active"


async def test_broken_settings_are_reported_not_crashed_on(tenant: Tenant) -> None:
    async with db.get_database().sessionmaker() as session:  # written behind the API's back
        inbox = Inbox(workspace_id=int(tenant.workspace_id), name="Broken", channel="smtp", config={})
        session.add(inbox)
        await db.commit(session)
        inbox_id = inbox.id
    assert await email_poll.poll_now(inbox_id) is None
    row = await poll_row(inbox_id)
    assert row.failures == 1 and "settings are incomplete: config.fromAddress" in (row.last_error or "")
