"""Telegram end to end through the real app and the fake Bot API: connect a bot through the API, updates in
through /webhooks/telegram/{inboxId} -> stored -> contact, conversation and message; an agent's reply through
POST /api/v1/contacts/{identifier}/messages -> dispatcher -> at the fake in the exact format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from chatbotx.inbound import worker
from chatbotx.kit import db
from chatbotx.models import ContactInbox, Conversation, InboundEvent, Inbox, Message
from chatbotx.settings import get_settings
from tests.conftest import Tenant
from tests.e2e.helpers import count, messages, sent_out
from tests.fakes.telegram import FakeBot, FakeTelegram, serve_fake_telegram
from tests.polling import no_pending, wait_for


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTelegram]:
    with serve_fake_telegram() as fake:
        yield fake


@pytest.fixture
def fake(fake_server: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    fake_server.reset()
    monkeypatch.setenv("CHATBOTX_TELEGRAM_API_BASE", fake_server.base_url)
    get_settings.cache_clear()
    yield fake_server
    get_settings.cache_clear()


async def connect_bot(tenant: Tenant, fake: FakeTelegram) -> tuple[str, FakeBot]:
    bot = fake.add_bot(username="shop_bot", first_name="Shop")
    answer = await tenant.client.post(
        "/api/v1/channels",
        json={"name": "Support bot", "channel": "telegram", "config": {"botToken": bot.token}},
    )
    assert answer.status_code == 201, answer.text
    channel = answer.json()
    assert bot.webhook["url"] == channel["webhookUrl"]
    assert channel["webhookUrl"].endswith(f"/webhooks/telegram/{channel['id']}")
    assert channel["config"]["botUsername"] == "shop_bot"
    assert sorted(channel["secretKeys"]) == ["botToken", "webhookSecret"]
    return channel["id"], bot


async def contact_of(inbox_id: str, chat_id: int) -> ContactInbox | None:
    async with db.get_database().sessionmaker() as session:
        return await session.scalar(
            select(ContactInbox).where(
                ContactInbox.inbox_id == int(inbox_id), ContactInbox.source_id == str(chat_id)
            )
        )


async def receive(fake: FakeTelegram, bot: FakeBot, anon: httpx.AsyncClient, update: dict[str, Any]) -> None:
    """Deliver `update` as Telegram does, then wait (bounded) until the inbound job has handled it."""
    answer = await fake.deliver(bot, update, client=anon)
    assert answer.status_code == 200, answer.text
    inbox_id = int(bot.webhook["url"].rsplit("/", 1)[-1])
    await worker.drain(inbox_id)  # the kicked job may be handling it already: then wait for it
    await wait_for(lambda: no_pending(inbox_id))


async def test_connect_with_a_wrong_token_is_a_clear_error(tenant: Tenant, fake: FakeTelegram) -> None:
    answer = await tenant.client.post(
        "/api/v1/channels",
        json={"name": "Bad bot", "channel": "telegram", "config": {"botToken": "123:revoked"}},
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["code"] == "CHANNEL_CONNECT_FAILED"
    assert "Unauthorized" in error["message"], error
    assert error["data"]["reason"] == "TOKEN_INVALID"
    listed = await tenant.client.get("/api/v1/channels")
    assert listed.json()["data"] == []


async def test_inbound_text_then_agent_reply(
    tenant: Tenant, anon: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    inbox_id, bot = await connect_bot(tenant, fake)
    user = bot.user(23, "Sojan", "Jose", username="sojan")
    await receive(fake, bot, anon, bot.text_update(user, "Hello, is my order shipped?"))

    identity = await contact_of(inbox_id, 23)
    assert identity is not None
    contact = (await tenant.client.get(f"/api/v1/contacts/{identity.contact_id}")).json()
    assert (contact["firstName"], contact["lastName"]) == ("Sojan", "Jose")
    [incoming] = await messages(tenant, identity.contact_id)
    assert incoming["direction"] == "incoming"
    assert incoming["content"] == "Hello, is my order shipped?"

    answer = await tenant.client.post(
        f"/api/v1/contacts/{identity.contact_id}/messages", json={"text": "Yes, today!", "inboxId": inbox_id}
    )
    assert answer.status_code == 204, answer.text
    await sent_out(inbox_id)
    [sent] = fake.sent()
    assert sent.method == "sendMessage"
    assert sent.params == {"chat_id": 23, "text": "Yes, today!"}
    outgoing = (await messages(tenant, identity.contact_id))[-1]
    assert outgoing["status"] == "sent"  # Telegram has no delivery receipts: it stays sent


async def test_conversation_reply_with_buttons_quick_replies_and_a_file(
    tenant: Tenant, anon: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    inbox_id, bot = await connect_bot(tenant, fake)
    user = bot.user(30, "Lin")
    await receive(fake, bot, anon, bot.text_update(user, "options?"))
    identity = await contact_of(inbox_id, 30)
    assert identity is not None
    async with db.get_database().sessionmaker() as session:
        conversation_id = await session.scalar(
            select(Conversation.id).where(Conversation.contact_id == identity.contact_id)
        )
    replies = [
        {
            "text": "Pick one",
            "buttons": [{"title": "Yes", "payload": "YES"}, {"title": "Site", "url": "https://e.com"}],
        },
        {"text": "Colour?", "quickReplies": [{"title": "Red"}, {"title": "Blue"}]},
        {"text": "Your invoice", "files": ["https://files.example.com/invoice.pdf"]},
    ]
    for body in replies:
        answer = await tenant.client.post(f"/api/v1/conversations/{conversation_id}/messages", json=body)
        assert answer.status_code == 201, answer.text
        await sent_out(inbox_id)
    assert [(r.method, r.params) for r in fake.sent()] == [
        (
            "sendMessage",
            {
                "chat_id": 30,
                "text": "Pick one",
                "reply_markup": {
                    "inline_keyboard": [
                        [{"text": "Yes", "callback_data": "YES"}],
                        [{"text": "Site", "url": "https://e.com"}],
                    ]
                },
            },
        ),
        (
            "sendMessage",
            {
                "chat_id": 30,
                "text": "Colour?",
                "reply_markup": {
                    "keyboard": [[{"text": "Red"}, {"text": "Blue"}]],
                    "one_time_keyboard": True,
                    "resize_keyboard": True,
                },
            },
        ),
        (
            "sendDocument",
            {"chat_id": 30, "document": "https://files.example.com/invoice.pdf", "caption": "Your invoice"},
        ),
    ]


async def test_inbound_photo_is_downloaded_and_stored(
    tenant: Tenant, anon: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    inbox_id, bot = await connect_bot(tenant, fake)
    user = bot.user(24, "Ada")
    await receive(fake, bot, anon, bot.photo_update(user, b"\xff\xd8\xff\xe0 the receipt", caption="Receipt"))
    identity = await contact_of(inbox_id, 24)
    assert identity is not None
    [incoming] = await messages(tenant, identity.contact_id)
    assert incoming["content"] == "Receipt"
    [attachment] = incoming["attachments"]
    assert fake.requests_for("getFile") and fake.requests_for("file")
    file_id = attachment["fileId"]
    content = await tenant.client.get(f"/api/v1/files/{file_id}/content")
    assert content.status_code == 200, content.text
    assert content.content == b"\xff\xd8\xff\xe0 the receipt"


async def test_button_tap_is_a_button_message(
    tenant: Tenant, anon: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    inbox_id, bot = await connect_bot(tenant, fake)
    user = bot.user(25, "Grace")
    await receive(fake, bot, anon, bot.callback_update(user, "opt_yes", title="Yes"))
    identity = await contact_of(inbox_id, 25)
    assert identity is not None
    [incoming] = await messages(tenant, identity.contact_id)
    assert incoming["contentType"] == "button"
    assert incoming["content"] == "Yes"


async def test_button_tap_is_answered(tenant: Tenant, anon: httpx.AsyncClient, fake: FakeTelegram) -> None:
    _inbox_id, bot = await connect_bot(tenant, fake)
    user = bot.user(31, "Ken")
    update = bot.callback_update(user, "opt_no", title="No")
    await receive(fake, bot, anon, update)
    assert bot.answered == [{"callback_query_id": update["callback_query"]["id"]}]


async def test_forged_or_missing_secret_stores_nothing(
    tenant: Tenant, anon: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    inbox_id, bot = await connect_bot(tenant, fake)
    user = bot.user(26, "Mallory")
    for secret in ("forged", None):
        answer = await fake.deliver(bot, bot.text_update(user, "let me in"), client=anon, secret=secret)
        assert answer.status_code == 403
    await worker.drain(int(inbox_id))
    assert await count(InboundEvent, inbox_id) == 0
    assert await count(Message, inbox_id) == 0
    assert await contact_of(inbox_id, 26) is None


async def test_a_redelivered_update_is_stored_once(
    tenant: Tenant, anon: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    inbox_id, bot = await connect_bot(tenant, fake)
    user = bot.user(27, "Bob")
    update = bot.text_update(user, "twice?")
    await receive(fake, bot, anon, update)
    await receive(fake, bot, anon, update)
    assert await count(InboundEvent, inbox_id) == 1
    assert await count(Message, inbox_id) == 1
    async with db.get_database().sessionmaker() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(Conversation).where(Conversation.inbox_id == int(inbox_id))
            )
            == 1
        )


async def test_blocked_user_becomes_unreachable(
    tenant: Tenant, anon: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    inbox_id, bot = await connect_bot(tenant, fake)
    user = bot.user(28, "Eve")
    await receive(fake, bot, anon, bot.text_update(user, "hi"))
    identity = await contact_of(inbox_id, 28)
    assert identity is not None
    bot.block(28)
    answer = await tenant.client.post(
        f"/api/v1/contacts/{identity.contact_id}/messages", json={"text": "Still there?", "inboxId": inbox_id}
    )
    assert answer.status_code == 204, answer.text
    await sent_out(inbox_id)
    outgoing = (await messages(tenant, identity.contact_id))[-1]
    assert outgoing["status"] == "failed"
    refreshed = await contact_of(inbox_id, 28)
    assert refreshed is not None and refreshed.unreachable_at is not None
    assert fake.sent() == []


async def test_revoked_token_marks_the_channel(
    tenant: Tenant, anon: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    inbox_id, bot = await connect_bot(tenant, fake)
    user = bot.user(29, "Trent")
    await receive(fake, bot, anon, bot.text_update(user, "hi"))
    identity = await contact_of(inbox_id, 29)
    assert identity is not None
    del fake.bots[bot.token]  # revoked in @BotFather: every call is 401 Unauthorized
    await tenant.client.post(
        f"/api/v1/contacts/{identity.contact_id}/messages", json={"text": "hello", "inboxId": inbox_id}
    )
    await sent_out(inbox_id)
    async with db.get_database().sessionmaker() as session:
        inbox = await session.get(Inbox, int(inbox_id))
        assert inbox is not None and inbox.status == "needs_attention"


async def test_a_429_is_retried_after_retry_after(
    tenant: Tenant, anon: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    inbox_id, bot = await connect_bot(tenant, fake)
    user = bot.user(32, "Mia")
    await receive(fake, bot, anon, bot.text_update(user, "hi"))
    identity = await contact_of(inbox_id, 32)
    assert identity is not None
    too_many = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    fake.fail_next(1, (429, too_many))
    answer = await tenant.client.post(
        f"/api/v1/contacts/{identity.contact_id}/messages", json={"text": "eventually", "inboxId": inbox_id}
    )
    assert answer.status_code == 204, answer.text
    await sent_out(inbox_id)
    attempts = fake.requests_for("sendMessage")
    assert [r.status for r in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0  # retry_after honoured
    assert attempts[1].params == {"chat_id": 32, "text": "eventually"}
    assert (await messages(tenant, identity.contact_id))[-1]["status"] == "sent"


async def test_deleting_the_channel_removes_the_webhook(tenant: Tenant, fake: FakeTelegram) -> None:
    inbox_id, bot = await connect_bot(tenant, fake)
    answer = await tenant.client.delete(f"/api/v1/channels/{inbox_id}")
    assert answer.status_code == 204, answer.text
    assert bot.webhook["url"] == ""
    assert [r.method for r in fake.requests] == ["getMe", "setWebhook", "deleteWebhook"]
