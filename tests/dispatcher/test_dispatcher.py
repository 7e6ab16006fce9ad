"""The dispatcher over a fake provider: formats, retries, error effects, the window, limits and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io

import httpx
from sqlalchemy import select

from chatbotx.dispatcher.service import Claimed, Outcome
from chatbotx.kit import db
from chatbotx.kit.db import utcnow
from chatbotx.models import ContactInbox, Event, Inbox, Message
from tests.conftest import Tenant
from tests.dispatcher.conftest import (
    dispatcher,
    make_channel,
    make_recipient,
    messages_of,
    one,
    peak_per_window,
    queue_for_recipients,
    queue_rows,
)
from tests.dispatcher.fakechannel import FakeAdapter, FakeProvider


def send_url(contact_id: int) -> str:
    return f"/api/v1/contacts/id:{contact_id}/messages"


async def test_sends_text_and_files_in_the_adapters_format(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    api = tenant.client
    inbox = await make_channel(tenant.workspace_id, adapter)
    contact, _ = await make_recipient(tenant.workspace_id, inbox, "chat-7")
    upload = await api.post(
        "/api/v1/files", files={"file": ("cat.png", io.BytesIO(b"\x89PNG cat"), "image/png")}
    )
    assert upload.status_code == 201, upload.text
    body = {
        "text": "Hello",
        "files": [upload.json()["id"], "https://example.com/a.pdf"],
        "inboxId": str(inbox.id),
    }
    assert (await api.post(send_url(contact.id), json=body)).status_code == 204

    assert await dispatcher(adapter).drain() == 1
    (received,) = fake.received
    (message,) = await messages_of(inbox)
    assert received.body["id"] == message.id and received.body["to"] == "chat-7"
    assert received.body["text"] == "Hello"
    image, pdf = received.body["attachments"]
    assert (image["kind"], image["name"]) == ("image", "cat.png")
    assert pdf == {"kind": "file", "url": "https://example.com/a.pdf", "name": "a.pdf"}
    assert (message.status, message.provider_message_id, message.attempts) == ("sent", "p-1", 1)
    assert message.sent_at is not None and message.leased_until is None and message.error is None

    # The provider can fetch the stored file through its signed URL, without a token; a forged one is a 404.
    path = image["url"].split("://", 1)[1].split("/", 1)[1]
    async with httpx.AsyncClient(transport=api._transport, base_url="http://testserver") as anon:
        fetched = await anon.get(f"/{path}")
        assert fetched.status_code == 200 and fetched.content == b"\x89PNG cat"
        forged = path.split("&sig=")[0] + "&sig=" + "0" * 64
        assert (await anon.get(f"/{forged}")).status_code == 404

    events = await one_or_more_events(int(tenant.workspace_id))
    assert [e.payload["status"] for e in events] == ["sent"]
    assert events[0].payload["id"] == str(message.id) and events[0].payload["providerMessageId"] == "p-1"
    assert await dispatcher(adapter).drain() == 0  # sent once, never again
    assert len(fake.received) == 1


async def one_or_more_events(workspace_id: int) -> list[Event]:
    async with db.get_database().sessionmaker() as session:
        rows = await session.execute(
            select(Event)
            .where(Event.workspace_id == workspace_id, Event.type == "message.updated")
            .order_by(Event.id)
        )
        return list(rows.scalars())


async def test_buttons_quick_replies_and_templates_reach_the_adapter(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    from chatbotx.messages.service import queue_outgoing_message
    from chatbotx.models import Contact

    inbox = await make_channel(tenant.workspace_id, adapter)
    contact, _ = await make_recipient(tenant.workspace_id, inbox)
    attributes = {
        "buttons": [{"title": "Yes", "payload": "YES"}, {"title": "Site", "url": "https://example.com"}],
        "quickReplies": [{"title": "Red", "payload": "RED"}],
    }
    template = {"template": {"name": "order", "language": "en_US", "components": [{"type": "body"}]}}
    async with db.get_database().sessionmaker() as session:
        row = await session.get(Contact, contact.id)
        assert row is not None
        await queue_outgoing_message(session, row, inbox.id, content="Pick", content_attributes=attributes)
        await queue_outgoing_message(
            session, row, inbox.id, content=None, content_type="template", content_attributes=template
        )
        await db.commit(session)
    assert await dispatcher(adapter).drain() == 2
    first, second = sorted(fake.received, key=lambda r: r.body["id"])
    assert first.body["buttons"] == [
        {"title": "Yes", "payload": "YES", "url": None},
        {"title": "Site", "payload": None, "url": "https://example.com"},
    ]
    assert first.body["quickReplies"] == [{"title": "Red", "payload": "RED", "url": None}]
    assert second.body["template"] == {"name": "order", "language": "en_US", "components": [{"type": "body"}]}


async def test_rate_limited_then_delivered_after_retry_after(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    inbox = await make_channel(tenant.workspace_id, adapter)
    contact, _ = await make_recipient(tenant.workspace_id, inbox)
    (message_id,) = await queue_rows(contact, inbox, 1)
    fake.fail_next(1, "rate_limited")  # 429, retryAfter 3

    started = utcnow()
    assert await dispatcher(adapter).drain(started) == 1
    (message,) = await messages_of(inbox)
    assert (message.status, message.attempts, message.error_code) == ("queued", 1, "RATE_LIMITED")
    assert message.next_attempt_at is not None
    assert message.next_attempt_at >= started + dt.timedelta(
        seconds=3
    )  # retry_after honoured (> backoff 1 s)
    assert message.leased_until is None and "slow down" in (message.error or "")

    # Not due before its time; delivered once it is.
    assert await dispatcher(adapter).drain(started + dt.timedelta(seconds=2)) == 0
    assert await dispatcher(adapter).drain(message.next_attempt_at) == 1
    (message,) = await messages_of(inbox)
    assert (message.status, message.attempts, message.error_code) == ("sent", 2, None)
    assert fake.sent_ids() == [message_id, message_id]


async def test_server_errors_back_off_then_fail_with_a_clear_reason(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    from chatbotx.dispatcher import service

    inbox = await make_channel(tenant.workspace_id, adapter)
    contact, _ = await make_recipient(tenant.workspace_id, inbox)
    await queue_rows(contact, inbox, 1)
    fake.fail_next(service.MAX_ATTEMPTS, "server_error")
    now = utcnow()
    for attempt in range(1, service.MAX_ATTEMPTS + 1):
        assert await dispatcher(adapter).drain(now) == 1
        (message,) = await messages_of(inbox)
        if attempt < service.MAX_ATTEMPTS:
            assert message.status == "queued" and message.attempts == attempt
            assert message.next_attempt_at == now + dt.timedelta(seconds=service.backoff(attempt))
            now = message.next_attempt_at
    assert (message.status, message.error_code) == ("failed", "PROVIDER_UNAVAILABLE")
    assert message.error is not None and "unavailable after 12 attempts" in message.error
    assert len(fake.received) == service.MAX_ATTEMPTS


async def test_blocked_marks_the_contact_unreachable(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    api = tenant.client
    inbox = await make_channel(tenant.workspace_id, adapter)
    contact, identity = await make_recipient(tenant.workspace_id, inbox)
    await queue_rows(contact, inbox, 3)
    fake.fail_next(1, "blocked")

    assert await dispatcher(adapter).drain() == 3
    messages = await messages_of(inbox)
    assert [(m.status, m.error_code) for m in messages] == [
        ("failed", "BLOCKED_BY_USER"),
        ("failed", "CONTACT_UNREACHABLE"),
        ("failed", "CONTACT_UNREACHABLE"),
    ]
    assert "blocked" in (messages[0].error or "")
    assert len(fake.received) == 1  # the others were refused without a provider call
    row = await one(ContactInbox, ContactInbox.id == identity.id)
    assert row.unreachable_at is not None and row.unreachable_reason == "BLOCKED_BY_USER"

    # Queueing to them is now refused up front.
    answer = await api.post(send_url(contact.id), json={"text": "hi?", "inboxId": str(inbox.id)})
    assert answer.status_code == 400 and answer.json()["code"] == "CONTACT_UNREACHABLE", answer.text
    assert "blocked" in answer.json()["message"]
    assert len(await messages_of(inbox)) == 3


async def test_invalid_token_flags_the_channel_and_logs_an_error(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    api = tenant.client
    inbox = await make_channel(tenant.workspace_id, adapter, token="expired")
    contact, _ = await make_recipient(tenant.workspace_id, inbox)
    await queue_rows(contact, inbox, 2)

    assert await dispatcher(adapter).drain() == 2
    first, second = await messages_of(inbox)
    assert (first.status, first.error_code) == ("failed", "TOKEN_INVALID")
    assert "update the channel's token" in (first.error or "")
    assert second.status == "queued" and second.leased_until is None  # waits for the channel to be fixed
    assert len(fake.received) == 1
    row = await one(Inbox, Inbox.id == inbox.id)
    assert row.status == "needs_attention" and "bad token" in (row.status_reason or "")

    logs = (await api.get("/api/v1/error-logs")).json()["data"]
    assert [(log["code"], log["source"]) for log in logs] == [("TOKEN_INVALID", f"channel.{adapter.channel}")]
    assert logs[0]["data"]["inboxId"] == str(inbox.id)

    # A channel needing attention is left alone until it is fixed.
    assert await dispatcher(adapter).drain() == 0
    assert len(fake.received) == 1


async def test_outside_the_window_is_refused_before_any_provider_call(
    tenant: Tenant, fake: FakeProvider, window_adapter: FakeAdapter
) -> None:
    api = tenant.client
    inbox = await make_channel(tenant.workspace_id, window_adapter)
    stale = utcnow() - dt.timedelta(hours=25)
    contact, _ = await make_recipient(tenant.workspace_id, inbox, last_inbound_at=stale)

    answer = await api.post(send_url(contact.id), json={"text": "late", "inboxId": str(inbox.id)})
    assert answer.status_code == 400 and answer.json()["code"] == "OUTSIDE_WINDOW", answer.text
    assert "24-hour customer-service window" in answer.json()["message"]
    assert "template" in answer.json()["message"]
    assert await messages_of(inbox) == []

    # A template may be sent outside the window.
    from chatbotx.messages.service import queue_outgoing_message
    from chatbotx.models import Contact

    async with db.get_database().sessionmaker() as session:
        row = await session.get(Contact, contact.id)
        assert row is not None
        template = {"template": {"name": "hello_again", "language": "en_US"}}
        await queue_outgoing_message(
            session, row, inbox.id, content=None, content_type="template", content_attributes=template
        )
        await db.commit(session)
    assert await dispatcher(window_adapter).drain() == 1
    assert [r.body["template"]["name"] for r in fake.received] == ["hello_again"]


async def test_a_window_that_closed_after_queueing_fails_without_a_call(
    tenant: Tenant, fake: FakeProvider, window_adapter: FakeAdapter
) -> None:
    api = tenant.client
    inbox = await make_channel(tenant.workspace_id, window_adapter)
    contact, _ = await make_recipient(
        tenant.workspace_id, inbox, last_inbound_at=utcnow() - dt.timedelta(hours=23)
    )
    answer = await api.post(send_url(contact.id), json={"text": "in time", "inboxId": str(inbox.id)})
    assert answer.status_code == 204, answer.text

    # Sent two hours later (the dispatcher was down, say): the window has closed meanwhile.
    assert await dispatcher(window_adapter).drain(utcnow() + dt.timedelta(hours=2)) == 1
    (message,) = await messages_of(inbox)
    assert (message.status, message.error_code) == ("failed", "OUTSIDE_WINDOW")
    assert fake.received == []


async def test_the_rate_limit_is_never_exceeded_in_any_second(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    config = {"perSecond": 8, "perRecipient": 2, "burst": 2}
    inbox = await make_channel(tenant.workspace_id, adapter, config=config)
    ids = await queue_for_recipients(tenant.workspace_id, inbox, 6, 4)

    assert await dispatcher(adapter).drain() == 24
    assert sorted(fake.sent_ids()) == sorted(ids)  # all delivered: over the limit they waited, none failed
    assert {m.status for m in await messages_of(inbox)} == {"sent"}
    assert peak_per_window([r.at for r in fake.received]) <= 8
    for index in range(6):
        times = [r.at for r in fake.received if r.body["to"] == f"user-{index}"]
        assert peak_per_window(times) <= 2
    # A recipient's messages go out in the order they were queued.
    for index in range(6):
        sent = [r.body["id"] for r in fake.received if r.body["to"] == f"user-{index}"]
        assert sent == sorted(sent)


async def test_two_dispatchers_racing_send_each_message_once(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    inbox = await make_channel(tenant.workspace_id, adapter)
    ids = await queue_for_recipients(tenant.workspace_id, inbox, 20, 3)
    fake.delay = 0.01
    first, second = dispatcher(adapter, batch=7), dispatcher(adapter, batch=7)
    claimed = await asyncio.gather(first.drain(), second.drain())
    assert sum(claimed) == len(ids) and all(claimed)  # both took part
    assert sorted(fake.sent_ids()) == sorted(ids)  # each exactly once
    assert {m.status for m in await messages_of(inbox)} == {"sent"}


async def test_claims_overlapping_sends_keep_each_recipients_order_and_send_once(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    inbox = await make_channel(tenant.workspace_id, adapter)
    ids = await queue_for_recipients(tenant.workspace_id, inbox, 3, 9)
    fake.delay = 0.01
    sender = dispatcher(adapter, batch=4)
    claims: list[int] = []
    claim = sender.claim

    async def counted(now: dt.datetime, limit: int) -> list[Claimed]:
        items = await claim(now, limit)
        claims.append(len(items))
        return items

    sender.claim = counted  # type: ignore[method-assign]  # counting wrapper
    assert await sender.drain() == len(ids)
    assert sum(claims) == len(ids) and max(claims) <= 4
    assert sender.in_flight() == 0 and sender.queued == 0  # its count of what is under way is back to 0
    assert sorted(fake.sent_ids()) == sorted(ids)  # each exactly once
    for index in range(3):  # batches of one recipient overlap, its messages still go out in queue order
        sent = [r.body["id"] for r in fake.received if r.body["to"] == f"user-{index}"]
        assert sent == sorted(sent)
    assert {m.status for m in await messages_of(inbox)} == {"sent"}


class Throttled:
    """A limiter that always says: not within your lease (every message is deferred)."""

    async def turn(self, *args: object, **kwargs: object) -> tuple[float, None]:
        return 1000.0, None

    async def cancel(self, ticket: object) -> None:
        pass

    async def done(self, ticket: object) -> None:
        pass

    def pause(self, *args: object) -> None:
        pass


async def test_deferred_messages_are_all_released_while_later_claims_join_their_group(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    inbox = await make_channel(tenant.workspace_id, adapter)
    first, _ = await make_recipient(tenant.workspace_id, inbox, "user-1")
    second, _ = await make_recipient(tenant.workspace_id, inbox, "user-2")
    ids = await queue_rows(first, inbox, 6)
    ids += await queue_rows(second, inbox, 1)
    ids += await queue_rows(first, inbox, 6)
    sender = dispatcher(adapter, batch=4, limiter=Throttled())
    record = sender.writer.record

    async def slow_record(outcome: Outcome) -> None:
        await asyncio.sleep(0.05)  # the next claims land in the group while it settles its deferrals
        await record(outcome)

    sender.writer.record = slow_record  # type: ignore[method-assign]
    assert await sender.drain() == len(ids)  # each claimed once, deferred, not due again for 1,000 s
    assert fake.received == []
    messages = await messages_of(inbox)
    assert {m.status for m in messages} == {"queued"}
    assert all(m.leased_until is None for m in messages)  # every one released, none left to its lease
    assert all(m.next_attempt_at > utcnow() + dt.timedelta(seconds=900) for m in messages)
    assert sender.in_flight() == 0 and sender.queued == 0


async def test_a_dispatcher_cancelled_mid_batch_loses_nothing_and_sends_nothing_twice(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    inbox = await make_channel(tenant.workspace_id, adapter, config={"perSecond": 20})
    ids = await queue_for_recipients(tenant.workspace_id, inbox, 10, 4)
    fake.delay = 0.05
    running = asyncio.create_task(dispatcher(adapter).drain())
    await fake.wait_for(5)  # mid-batch: some sent, some in flight, most waiting on the limit
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    sent_before = len(fake.received)
    assert 5 <= sent_before < len(ids)
    messages = await messages_of(inbox)
    assert all(m.leased_until is None for m in messages)  # released, not left to expire
    assert (
        len([m for m in messages if m.status == "sent"]) == sent_before
    )  # every call that was made is recorded

    assert await dispatcher(adapter).drain() == len(ids) - sent_before
    assert sorted(fake.sent_ids()) == sorted(ids)
    assert {m.status for m in await messages_of(inbox)} == {"sent"}


async def test_rows_of_a_crashed_dispatcher_wait_for_its_lease(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    inbox = await make_channel(tenant.workspace_id, adapter)
    contact, _ = await make_recipient(tenant.workspace_id, inbox)
    ids = await queue_rows(contact, inbox, 3)
    now = utcnow()
    crashed = dispatcher(adapter, lease=dt.timedelta(seconds=30))
    assert len(await crashed.claim(now, 10)) == 3  # claimed, then the process died

    assert await dispatcher(adapter).drain(now + dt.timedelta(seconds=29)) == 0  # still its lease
    assert await dispatcher(adapter).drain(now + dt.timedelta(seconds=31)) == 3
    assert fake.sent_ids() == ids


async def test_messages_of_channels_without_an_adapter_are_left_alone(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    from tests.contact_tags.factories import make_contact, make_contact_inbox, make_inbox

    api_inbox = await make_inbox(tenant.workspace_id, "API", channel="omnichannel")
    contact = await make_contact(tenant.workspace_id)
    await make_contact_inbox(contact, api_inbox)
    await queue_rows(contact, api_inbox, 2)
    assert await dispatcher(adapter).drain() == 0
    assert await dispatcher_all().drain() == 0
    assert {m.status for m in await messages_of(api_inbox)} == {"queued"}
    assert fake.received == []


def dispatcher_all() -> object:
    from chatbotx.dispatcher.service import Dispatcher

    return Dispatcher(db.get_database().sessionmaker)


async def test_the_app_dispatcher_sends_right_after_the_commit(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    from chatbotx.dispatcher import runner

    inbox = await make_channel(tenant.workspace_id, adapter)
    contact, _ = await make_recipient(tenant.workspace_id, inbox)
    runner.start()
    try:
        answer = await tenant.client.post(
            send_url(contact.id), json={"text": "now", "inboxId": str(inbox.id)}
        )
        assert answer.status_code == 204
        await fake.wait_for(1)  # woken by the commit; waiting for it, not timing it
        assert [r.body["text"] for r in fake.received] == ["now"]
    finally:
        await runner.stop()
    (message,) = await messages_of(inbox)
    assert message.status == "sent"


async def test_failed_messages_are_shown_with_their_error(
    tenant: Tenant, fake: FakeProvider, adapter: FakeAdapter
) -> None:
    inbox = await make_channel(tenant.workspace_id, adapter)
    contact, _ = await make_recipient(tenant.workspace_id, inbox)
    await queue_rows(contact, inbox, 1)
    fake.fail_next(1, "invalid_recipient")
    await dispatcher(adapter).drain()
    (shown,) = (await tenant.client.get(send_url(contact.id))).json()["data"]
    assert shown["status"] == "failed" and "cannot deliver" in shown["error"]
    assert Message  # the row model is what the API shows
