"""Email end to end through the real app, a real IMAP server (dovecot) and a real SMTP server (aiosmtpd):
connect an email channel through the API (both logins checked), mail appended to the mailbox -> polled ->
stored once -> contact, conversation and message (HTML cleaned, attachment stored); an agent's reply ->
dispatcher -> SMTP with the threading headers mail clients need; the customer's answer joins the
conversation; an automatic reply is never answered automatically."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from chatbotx.channels import email_poll
from chatbotx.inbound import worker
from chatbotx.kit import db
from chatbotx.messages.service import queue_outgoing_message
from chatbotx.models import ChannelPoll, Contact, Conversation, Message
from tests.conftest import Tenant
from tests.e2e.helpers import identity, sent_out
from tests.fakes.mail import (
    QUIET_SMTP,
    Dovecot,
    FakeSmtp,
    Mailbox,
    channel_config,
    free_port,
    mail,
    run_dovecot,
    run_smtp,
)
from tests.polling import no_pending, wait_for

pytestmark = QUIET_SMTP

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


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
    """The tests poll when they choose (poll_now): the app's poller stands aside, then resumes."""
    await email_poll.stop()
    yield
    email_poll.start()


@pytest.fixture
def mailbox(imap_server: Dovecot) -> Mailbox:
    """A fresh, empty mailbox of its own for each test."""
    return imap_server.add_mailbox()


@pytest.fixture
def smtp(smtp_server: FakeSmtp) -> FakeSmtp:
    smtp_server.reset()
    return smtp_server


async def connect(tenant: Tenant, mailbox: Mailbox, smtp: FakeSmtp, **overrides: Any) -> str:
    answer = await tenant.client.post(
        "/api/v1/channels",
        json={
            "name": "Support mail",
            "channel": "smtp",
            "config": channel_config(mailbox, smtp, **overrides),
        },
    )
    assert answer.status_code == 201, answer.text
    channel = answer.json()
    assert sorted(channel["secretKeys"]) == ["imapPassword", "smtpPassword"]
    assert "smtpPassword" not in channel["config"] and "imapPassword" not in channel["config"]
    assert channel["config"]["smtpTls"] == "none" and channel["config"]["fromAddress"] == mailbox.address
    return str(channel["id"])


async def poll(inbox_id: str) -> email_poll.PollResult:
    """Poll the mailbox now and wait (bounded) until the inbound job has handled what it stored."""
    result = await email_poll.poll_now(int(inbox_id))
    assert result is not None, "the poll failed: " + str(await poll_error(inbox_id))
    await worker.drain(int(inbox_id))
    await wait_for(lambda: no_pending(int(inbox_id)))
    return result


async def poll_error(inbox_id: str) -> str | None:
    async with db.get_database().sessionmaker() as session:
        row = await session.get(ChannelPoll, int(inbox_id))
        return row.last_error if row else None


async def rows(inbox_id: str) -> list[Message]:
    async with db.get_database().sessionmaker() as session:
        result = await session.scalars(
            select(Message).where(Message.inbox_id == int(inbox_id)).order_by(Message.id)
        )
        return list(result)


async def test_bad_credentials_or_an_unreachable_server_refuse_the_channel(
    tenant: Tenant, mailbox: Mailbox, smtp: FakeSmtp
) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"smtpPassword": "wrong"}, "TOKEN_INVALID", "SMTP"),
        ({"imapPassword": "wrong"}, "TOKEN_INVALID", "IMAP"),
        ({"imapPort": free_port()}, "PROVIDER_UNAVAILABLE", "IMAP"),
        ({"smtpPort": free_port()}, "PROVIDER_UNAVAILABLE", "SMTP"),
    ]
    for overrides, reason, server in cases:
        answer = await tenant.client.post(
            "/api/v1/channels",
            json={
                "name": "Bad mail",
                "channel": "smtp",
                "config": channel_config(mailbox, smtp, **overrides),
            },
        )
        assert answer.status_code == 400, answer.text
        error = answer.json()
        assert error["code"] == "CHANNEL_CONNECT_FAILED", error
        assert error["data"]["reason"] == reason, error
        assert server in error["message"], error
    missing = channel_config(mailbox, smtp)
    del missing["imapHost"]
    answer = await tenant.client.post(
        "/api/v1/channels", json={"name": "Half", "channel": "smtp", "config": missing}
    )
    assert answer.status_code in (400, 422), answer.text
    assert "config.imapHost" in answer.text
    listed = await tenant.client.get("/api/v1/channels")
    assert listed.json()["data"] == []
    assert smtp.received() == []


async def test_mail_in_reply_out_and_the_thread_continues(
    tenant: Tenant, mailbox: Mailbox, smtp: FakeSmtp
) -> None:
    inbox_id = await connect(tenant, mailbox, smtp)
    first = mail(
        text=None,
        html="<html><body><p>Hello, where is <b>order 42</b>?</p><ul><li>blue</li></ul>"
        "<script>track()</script></body></html>",
        attachments=[("receipt.pdf", "application/pdf", PDF)],
    )
    uid = mailbox.append(first)
    result = await poll(inbox_id)
    assert (result.fetched, result.stored) == (1, 1)
    assert "\\Seen" not in mailbox.flags(uid)  # BODY.PEEK on a read-only INBOX: the mail stays unread

    jane = await identity(inbox_id, "jane@example.org")
    contact = (await tenant.client.get(f"/api/v1/contacts/{jane.contact_id}")).json()
    assert (contact["email"], contact["firstName"], contact["lastName"]) == (
        "jane@example.org",
        "Jane",
        "Doe",
    )
    [incoming] = await rows(inbox_id)
    assert incoming.direction == "incoming" and incoming.provider_message_id == "first-42@example.org"
    assert incoming.content == "Hello, where is order 42?\n\n  * blue"
    details = incoming.content_attributes["email"]
    assert details["subject"] == "Where is my order?"
    assert "<b>order 42</b>" in details["html"] and "track()" in details["html"]  # the original is kept
    assert "autoSubmitted" not in incoming.content_attributes
    [attachment] = incoming.attachments
    assert (attachment["name"], attachment["contentType"], attachment["size"]) == (
        "receipt.pdf",
        "application/pdf",
        len(PDF),
    )
    content = await tenant.client.get(f"/api/v1/files/{attachment['fileId']}/content")
    assert content.status_code == 200 and content.content == PDF

    # The same mail again (a copy in the mailbox, another UID): stored once.
    mailbox.append(first)
    again = await poll(inbox_id)
    assert (again.fetched, again.stored) == (1, 0)
    assert len(await rows(inbox_id)) == 1
    nothing = await poll(inbox_id)  # the cursor moved on: nothing is fetched twice
    assert nothing.fetched == 0

    # The agent answers: one mail, threaded under the customer's.
    answer = await tenant.client.post(
        f"/api/v1/conversations/{incoming.conversation_id}/messages", json={"text": "It ships today."}
    )
    assert answer.status_code == 201, answer.text
    reply_id = int(answer.json()["id"])
    await sent_out(inbox_id)
    [sent] = smtp.received()
    assert sent.rcpt_tos == ["jane@example.org"] and sent.mail_from == mailbox.address
    headers = sent.message
    our_id = f"conversation/{incoming.conversation_id}/messages/{reply_id}@shop.example.com"
    assert headers["Message-ID"] == f"<{our_id}>"
    assert headers["In-Reply-To"] == "<first-42@example.org>"
    assert headers["References"] == "<first-42@example.org>"
    assert headers["Subject"] == "Re: Where is my order?"
    assert headers["From"] == f"Shop Support <{mailbox.address}>"
    assert headers["To"] == "jane@example.org"
    assert headers["Reply-To"] == mailbox.address
    assert headers["Auto-Submitted"] is None  # a person wrote it
    assert headers.get_content().strip() == "It ships today."
    assert b"\r\n" in sent.raw and all(len(line) <= 998 for line in sent.raw.split(b"\r\n"))
    reply = (await rows(inbox_id))[-1]
    assert reply.status == "sent" and reply.provider_message_id == our_id
    assert reply.content_attributes["email"]["messageId"] == our_id

    # Jane answers our mail: it joins the same conversation.
    mailbox.append(
        mail(
            subject="Re: Where is my order?",
            text="Thanks!\n\nOn Sunday, Shop Support wrote:\n> It ships today.",
            message_id="<second-43@example.org>",
            in_reply_to=f"<{our_id}>",
            references=f"<first-42@example.org> <{our_id}>",
        )
    )
    await poll(inbox_id)
    answered = (await rows(inbox_id))[-1]
    assert answered.provider_message_id == "second-43@example.org"
    assert answered.conversation_id == incoming.conversation_id
    assert answered.content_attributes["email"]["references"] == ["first-42@example.org", our_id]

    # The next agent reply (with a file) threads under her latest mail, References carrying the whole chain.
    upload = await tenant.client.post("/api/v1/files", files={"file": ("label.pdf", PDF, "application/pdf")})
    assert upload.status_code == 201, upload.text
    answer = await tenant.client.post(
        f"/api/v1/conversations/{incoming.conversation_id}/messages",
        json={"text": "You're welcome.", "files": [upload.json()["id"]]},
    )
    assert answer.status_code == 201, answer.text
    await sent_out(inbox_id)
    second = smtp.received()[-1].message
    assert second["In-Reply-To"] == "<second-43@example.org>"
    assert str(second["References"]).split() == [
        "<first-42@example.org>",
        f"<{our_id}>",
        "<second-43@example.org>",
    ]
    assert second["Subject"] == "Re: Where is my order?"
    assert second.get_body(preferencelist=("plain",)).get_content().strip() == "You're welcome."
    [label] = list(second.iter_attachments())
    assert (label.get_filename(), label.get_content_type(), label.get_content()) == (
        "label.pdf",
        "application/pdf",
        PDF,
    )

    # A new mail with no references starts a new conversation (same contact).
    mailbox.append(mail(subject="Another question", message_id="<third-44@example.org>"))
    await poll(inbox_id)
    newest = (await rows(inbox_id))[-1]
    assert newest.provider_message_id == "third-44@example.org"
    assert newest.contact_id == incoming.contact_id
    assert newest.conversation_id != incoming.conversation_id


async def test_a_reply_address_threads_into_its_conversation(
    tenant: Tenant, mailbox: Mailbox, smtp: FakeSmtp
) -> None:
    inbox_id = await connect(tenant, mailbox, smtp)
    mailbox.append(mail(message_id="<start@example.org>"))
    await poll(inbox_id)
    [first] = await rows(inbox_id)
    local, domain = mailbox.address.split("@")
    mailbox.append(
        mail(
            to=f"{local}+{first.conversation_id}@{domain}",
            subject="More about my order",
            message_id="<by-address@example.org>",
        )
    )
    await poll(inbox_id)
    latest = (await rows(inbox_id))[-1]
    assert latest.provider_message_id == "by-address@example.org"
    assert latest.conversation_id == first.conversation_id


async def test_an_automatic_reply_is_stored_but_never_answered_automatically(
    tenant: Tenant, mailbox: Mailbox, smtp: FakeSmtp
) -> None:
    inbox_id = await connect(tenant, mailbox, smtp)
    mailbox.append(
        mail(
            sender="Jane Doe <jane@example.org>",
            subject="Out of office: Re: Your order",
            text="I am away until Monday.",
            message_id="<ooo-1@example.org>",
            headers={"Auto-Submitted": "auto-replied"},
        )
    )
    # Our own address writing to the mailbox (a copy of a sent mail) never becomes a contact.
    mailbox.append(mail(sender=f"Shop <{mailbox.address}>", message_id="<own-1@shop.example.com>"))
    result = await poll(inbox_id)
    assert (result.fetched, result.stored) == (2, 1)
    [auto] = await rows(inbox_id)
    assert auto.content_attributes["autoSubmitted"] is True

    # A bot answering it would start a loop: the send is refused, nothing reaches SMTP.
    async with db.get_database().sessionmaker() as session:
        contact = await session.get_one(Contact, auto.contact_id)
        await queue_outgoing_message(
            session, contact, int(inbox_id), content="Thanks for your message!", sender_type="bot"
        )
        await db.commit(session)
    await sent_out(inbox_id)
    bot_reply = (await rows(inbox_id))[-1]
    assert bot_reply.status == "failed" and bot_reply.error_code == "INVALID_MESSAGE"
    assert "loop" in (bot_reply.error or "")
    assert smtp.received() == []

    # A person may still answer; a bot's mail elsewhere says it is automatic (RFC 3834).
    answer = await tenant.client.post(
        f"/api/v1/conversations/{auto.conversation_id}/messages", json={"text": "See you Monday."}
    )
    assert answer.status_code == 201, answer.text
    await sent_out(inbox_id)
    [human] = smtp.received()
    assert human.message["Auto-Submitted"] is None
    mailbox.append(mail(message_id="<normal-2@example.org>", subject="Back again"))
    await poll(inbox_id)
    normal = (await rows(inbox_id))[-1]
    async with db.get_database().sessionmaker() as session:
        contact = await session.get_one(Contact, normal.contact_id)
        conversation = await session.get_one(Conversation, normal.conversation_id)
        conversation.last_activity_at = db.utcnow()
        await queue_outgoing_message(
            session, contact, int(inbox_id), content="A bot here.", sender_type="bot"
        )
        await db.commit(session)
    await sent_out(inbox_id)
    bot = smtp.received()[-1].message
    assert bot["Auto-Submitted"] == "auto-replied"
    assert bot["In-Reply-To"] == "<normal-2@example.org>"


async def test_a_refused_recipient_fails_the_message_clearly(
    tenant: Tenant, mailbox: Mailbox, smtp: FakeSmtp
) -> None:
    inbox_id = await connect(tenant, mailbox, smtp)
    mailbox.append(mail(sender="Nobody <refused@example.org>", message_id="<r-1@example.org>"))
    await poll(inbox_id)
    [incoming] = await rows(inbox_id)
    answer = await tenant.client.post(
        f"/api/v1/conversations/{incoming.conversation_id}/messages", json={"text": "Hello?"}
    )
    assert answer.status_code == 201, answer.text
    await sent_out(inbox_id)
    failed = (await rows(inbox_id))[-1]
    assert failed.status == "failed" and failed.error_code == "INVALID_RECIPIENT"
    assert "550" in (failed.error or "")
    assert smtp.received() == []


async def test_the_app_polls_new_mail_by_itself(tenant: Tenant, mailbox: Mailbox, smtp: FakeSmtp) -> None:
    inbox_id = await connect(tenant, mailbox, smtp)
    mailbox.append(mail(message_id="<background-1@example.org>"))
    email_poll.start()  # as the server and `chatbotx server worker` run it: a new channel is polled at once

    async def arrived() -> list[Message]:
        return await rows(inbox_id)

    [message] = await wait_for(arrived)
    assert message.provider_message_id == "background-1@example.org"
    async with db.get_database().sessionmaker() as session:
        poll_row = await session.get_one(ChannelPoll, int(inbox_id))
    assert poll_row.state["lastUid"] == 1 and poll_row.leased_until is None
    assert poll_row.next_poll_at is not None and poll_row.next_poll_at > db.utcnow()


async def test_the_business_writes_first_with_its_own_subject_and_the_answer_threads(
    tenant: Tenant, mailbox: Mailbox, smtp: FakeSmtp
) -> None:
    inbox_id = await connect(tenant, mailbox, smtp)
    created = await tenant.client.post(
        "/api/v1/contacts", json={"firstName": "Lee", "email": "Lee.Park@Example.org"}
    )
    assert created.status_code == 200, created.text  # the seed API answers 200
    contact_id = created.json()["id"]
    bad = await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/messages",
        json={"text": "x", "inboxId": inbox_id, "subject": "Injected\r\nBcc: all@example.org"},
    )
    assert bad.status_code == 422 and "subject" in bad.text
    sent = await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/messages",
        json={"text": "Your invoice is ready.", "inboxId": inbox_id, "subject": "Invoice 7"},
    )
    assert sent.status_code == 204, sent.text
    await sent_out(inbox_id)
    [out] = smtp.received()
    assert out.rcpt_tos == ["lee.park@example.org"]  # the contact's address, as the channel keys senders
    assert out.message["Subject"] == "Invoice 7" and out.message["In-Reply-To"] is None
    [first] = await rows(inbox_id)
    assert first.status == "sent" and first.contact_id == int(contact_id)

    # Lee answers: the mail joins the same contact and conversation.
    mailbox.append(
        mail(
            sender="Lee Park <lee.park@example.org>",
            message_id="<lee-1@example.org>",
            subject="Re: Invoice 7",
            in_reply_to=f"<{first.provider_message_id}>",
        )
    )
    await poll(inbox_id)
    answer = (await rows(inbox_id))[-1]
    assert answer.direction == "incoming" and answer.conversation_id == first.conversation_id
    assert answer.contact_id == int(contact_id)
