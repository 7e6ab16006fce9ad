"""WhatsApp end to end through the real app and the fake Graph API: connect a number through the API,
signed webhooks in through /webhooks/whatsapp/{inboxId} -> contact (E.164 phone), conversation, message;
replies through the API -> dispatcher -> at the fake in the exact Cloud API format; statuses; the window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

import chatbotx.channels.whatsapp  # noqa: F401  (registered even if another adapter registered first)
from chatbotx.inbound import worker
from chatbotx.kit import db
from chatbotx.models import ContactInbox, Conversation, InboundEvent, Inbox, Message
from chatbotx.settings import get_settings
from tests.conftest import Tenant
from tests.e2e.helpers import conversation_of, count, identity, messages, sent_out
from tests.fakes.meta import MetaGraphFake, WhatsAppNumber, WhatsAppUser, serve_fake_meta
from tests.polling import no_pending, wait_for

WA_ID = "16505551234"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[MetaGraphFake]:
    with serve_fake_meta() as fake:
        yield fake


@pytest.fixture
def fake(fake_server: MetaGraphFake, monkeypatch: pytest.MonkeyPatch) -> Iterator[MetaGraphFake]:
    fake_server.reset()
    monkeypatch.setenv("CHATBOTX_META_GRAPH_API_BASE", fake_server.base_url)
    get_settings.cache_clear()
    yield fake_server
    get_settings.cache_clear()


class Channel:
    """A connected WhatsApp channel: its id, webhook path, verify token, and the fake number behind it."""

    def __init__(self, data: dict[str, Any], number: WhatsAppNumber):
        self.data = data
        self.id: str = data["id"]
        self.path = f"/webhooks/whatsapp/{self.id}"
        self.number = number


async def connect(tenant: Tenant, fake: MetaGraphFake, **extra: Any) -> Channel:
    number = fake.add_whatsapp_number(app_secret="e2e-app-secret")
    config = {
        "phoneNumberId": number.id,
        "wabaId": number.waba_id,
        "accessToken": number.access_token,
        "appSecret": number.app_secret,
        **extra,
    }
    answer = await tenant.client.post(
        "/api/v1/channels", json={"name": "WhatsApp support", "channel": "whatsapp", "config": config}
    )
    assert answer.status_code == 201, answer.text
    channel = answer.json()
    assert channel["webhookUrl"].endswith(f"/webhooks/whatsapp/{channel['id']}")
    assert channel["config"]["displayPhoneNumber"] == "+1 555-078-3881"
    assert channel["config"]["phoneNumber"] == "+15550783881"
    assert sorted(channel["secretKeys"]) == ["accessToken", "appSecret"]
    return Channel(channel, number)


async def receive(
    fake: MetaGraphFake, channel: Channel, anon: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    """Deliver `payload` signed as Meta does, then wait (bounded) until the inbound job has handled it."""
    answer = await fake.deliver(channel.path, payload, app_secret=channel.number.app_secret, client=anon)
    assert answer.status_code == 200, answer.text
    await worker.drain(int(channel.id))  # the kicked job may be handling it already: then wait for it
    await wait_for(lambda: no_pending(int(channel.id)))


async def first_contact(
    tenant: Tenant,
    anon: httpx.AsyncClient,
    fake: MetaGraphFake,
    channel: Channel,
    name: str = "Sheena Nelson",
) -> tuple[WhatsAppUser, int]:
    user = channel.number.user(WA_ID, name)
    await receive(fake, channel, anon, channel.number.webhook(channel.number.text(user, "Hello!")))
    return user, (await identity(channel.id, WA_ID)).contact_id


def envelope(kind: str, content: dict[str, Any], to: str = WA_ID) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
        kind: content,
    }


# --------------------------------------------------------------------------------------------- connect


async def test_connect_generates_a_verify_token_and_answers_the_handshake(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    verify_token = channel.data["verifyToken"]
    assert verify_token and len(verify_token) >= 16
    [check] = fake.requests
    assert (check.path, check.query) == (
        f"/v21.0/{channel.number.id}",
        {"fields": "display_phone_number,verified_name"},
    )
    assert check.token == channel.number.access_token
    ok = await fake.verify_subscription(channel.path, verify_token, challenge="1158201444", client=anon)
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await fake.verify_subscription(channel.path, "guessed", client=anon)
    assert wrong.status_code == 403
    given = await connect(tenant, fake, verifyToken="my-own-verify-token")
    assert given.data["verifyToken"] == "my-own-verify-token"
    assert (await fake.verify_subscription(given.path, "my-own-verify-token", client=anon)).status_code == 200


async def test_connect_with_a_bad_token_is_a_clear_error(tenant: Tenant, fake: MetaGraphFake) -> None:
    number = fake.add_whatsapp_number()
    config = {"phoneNumberId": number.id, "accessToken": "EAAGwrong", "appSecret": "x"}
    answer = await tenant.client.post(
        "/api/v1/channels", json={"name": "Bad", "channel": "whatsapp", "config": config}
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert "Invalid OAuth access token" in answer.json()["message"]
    missing = await tenant.client.post(
        "/api/v1/channels",
        json={"name": "Bad", "channel": "whatsapp", "config": {"phoneNumberId": number.id, "appSecret": "x"}},
    )
    assert missing.status_code == 422, missing.text
    assert (await tenant.client.get("/api/v1/channels")).json()["data"] == []


# --------------------------------------------------------------------------------------------- inbound


async def test_inbound_text_makes_a_contact_with_an_e164_phone(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    _user, contact_id = await first_contact(tenant, anon, fake, channel, "Sheena Van Nelson")
    contact = (await tenant.client.get(f"/api/v1/contacts/{contact_id}")).json()
    assert (contact["firstName"], contact["lastName"]) == ("Sheena", "Van Nelson")
    assert contact["phoneNumber"] == "+16505551234"
    [incoming] = await messages(tenant, contact_id)
    assert (incoming["direction"], incoming["content"], incoming["contentType"]) == (
        "incoming",
        "Hello!",
        "text",
    )


async def test_inbound_kinds_in_one_webhook(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    number = channel.number
    user = number.user(WA_ID, "Ada Lovelace")
    photo = number.image(user, b"\xff\xd8\xff\xe0 the receipt", caption="Receipt")
    payload = number.webhook(
        photo,
        number.button_reply(user, "opt-yes", "Yes"),
        number.location(user, 51.5, -0.12, name="Office", address="1 Street"),
        number.reaction(user, "wamid.ANY"),
    )
    await receive(fake, channel, anon, payload)
    contact_id = (await identity(channel.id, WA_ID)).contact_id
    image, button, location = await messages(tenant, contact_id)
    assert (image["contentType"], image["content"]) == ("image", "Receipt")
    content = await tenant.client.get(f"/api/v1/files/{image['attachments'][0]['fileId']}/content")
    assert content.status_code == 200 and content.content == b"\xff\xd8\xff\xe0 the receipt"
    # the media id was looked up, then its URL downloaded, both with the channel's token
    media_id = photo["image"]["id"]
    lookups = [r for r in fake.requests if r.path.endswith(f"/{media_id}")]
    downloads = [r for r in fake.requests if r.edge == "download" and r.query["mid"] == media_id]
    assert lookups and downloads and lookups[0].at <= downloads[0].at
    assert {r.token for r in lookups + downloads} == {number.access_token}
    assert (button["contentType"], button["content"]) == ("button", "Yes")
    assert location["contentType"] == "location"


async def test_forged_or_missing_signature_stores_nothing(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    number = channel.number
    payload = number.webhook(number.text(number.user(WA_ID), "let me in"))
    body = MetaGraphFake.encode(payload)
    forged = MetaGraphFake.sign(body, "not-the-app-secret")
    for signature in (forged, None):
        answer = await fake.deliver(channel.path, payload, signature=signature, client=anon)
        assert answer.status_code == 403, answer.text
    await worker.drain(int(channel.id))
    assert await count(InboundEvent, channel.id) == 0
    assert await count(Message, channel.id) == 0


async def test_a_redelivered_webhook_is_stored_once(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    number = channel.number
    payload = number.webhook(number.text(number.user(WA_ID), "twice?"))
    await receive(fake, channel, anon, payload)
    await receive(fake, channel, anon, payload)
    assert await count(InboundEvent, channel.id) == 1
    assert await count(Message, channel.id) == 1
    assert await count(Conversation, channel.id) == 1


# --------------------------------------------------------------------------------------------- outbound


async def test_agent_reply_goes_out_and_statuses_move_it(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    _user, contact_id = await first_contact(tenant, anon, fake, channel)
    answer = await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/messages", json={"text": "Yes, in blue!", "inboxId": channel.id}
    )
    assert answer.status_code == 204, answer.text
    await sent_out(channel.id)
    [sent] = fake.sent()
    assert sent.path == f"/v21.0/{channel.number.id}/messages"
    assert sent.token == channel.number.access_token
    assert sent.json == envelope("text", {"preview_url": False, "body": "Yes, in blue!"})
    wamid = sent.response["messages"][0]["id"]
    outgoing = (await messages(tenant, contact_id))[-1]
    assert outgoing["status"] == "sent"

    number = channel.number
    for status in ("delivered", "read"):
        await receive(fake, channel, anon, number.status_webhook(number.status(wamid, status)))
        assert (await messages(tenant, contact_id))[-1]["status"] == status
    # a late "delivered" does not move it back
    await receive(fake, channel, anon, number.status_webhook(number.status(wamid, "delivered")))
    assert (await messages(tenant, contact_id))[-1]["status"] == "read"


async def test_failed_status_marks_the_message_failed(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    _user, contact_id = await first_contact(tenant, anon, fake, channel)
    await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/messages", json={"text": "Are you there?", "inboxId": channel.id}
    )
    await sent_out(channel.id)
    wamid = fake.sent()[-1].response["messages"][0]["id"]
    number = channel.number
    await receive(fake, channel, anon, number.status_webhook(number.status(wamid, "failed", error=131026)))
    async with db.get_database().sessionmaker() as session:
        message = await session.scalar(select(Message).where(Message.provider_message_id == wamid))
    assert message is not None and message.status == "failed"
    assert message.error_code == "INVALID_RECIPIENT"


async def test_conversation_reply_buttons_list_and_file(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    _user, contact_id = await first_contact(tenant, anon, fake, channel)
    conversation_id = await conversation_of(contact_id)
    replies = [
        {
            "text": "Change or cancel?",
            "buttons": [{"title": "Change", "payload": "change"}, {"title": "Cancel", "payload": "cancel"}],
        },
        {"text": "Size?", "quickReplies": [{"title": s, "payload": s} for s in ("S", "M", "L", "XL")]},
        {"text": "Your invoice", "files": ["https://files.example.com/invoice.pdf"]},
    ]
    for body in replies:
        answer = await tenant.client.post(f"/api/v1/conversations/{conversation_id}/messages", json=body)
        assert answer.status_code == 201, answer.text
        await sent_out(channel.id)
    buttons, sizes, invoice = (r.json for r in fake.sent())
    assert buttons == envelope(
        "interactive",
        {
            "type": "button",
            "body": {"text": "Change or cancel?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "change", "title": "Change"}},
                    {"type": "reply", "reply": {"id": "cancel", "title": "Cancel"}},
                ]
            },
        },
    )
    assert sizes == envelope(
        "interactive",
        {
            "type": "list",
            "body": {"text": "Size?"},
            "action": {
                "button": "Options",
                "sections": [{"rows": [{"id": s, "title": s} for s in ("S", "M", "L", "XL")]}],
            },
        },
    )
    assert invoice == envelope(
        "document",
        {
            "link": "https://files.example.com/invoice.pdf",
            "caption": "Your invoice",
            "filename": "invoice.pdf",
        },
    )


async def test_outside_the_window_only_a_template_goes(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    channel.number.enforce_window = True  # Meta itself would answer 131047
    channel.number.add_template("order_update", "en_US", body=1)
    _user, contact_id = await first_contact(tenant, anon, fake, channel)
    async with db.get_database().sessionmaker() as session:
        await session.execute(
            update(ContactInbox)
            .where(ContactInbox.inbox_id == int(channel.id))
            .values(last_inbound_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=25))
        )
        await db.commit(session)
    fake.requests.clear()

    refused = await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/messages", json={"text": "Still interested?", "inboxId": channel.id}
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "OUTSIDE_WINDOW"
    conversation_id = await conversation_of(contact_id)
    template = {
        "name": "order_update",
        "language": "en_US",
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "#1234"}]}],
    }
    answer = await tenant.client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"template": template}
    )
    assert answer.status_code == 201, answer.text
    await sent_out(channel.id)
    [sent] = fake.sent()
    assert fake.sends() == [sent]  # the refused free-form message never reached Meta
    assert sent.json == envelope(
        "template",
        {"name": "order_update", "language": {"code": "en_US"}, "components": template["components"]},
    )


async def test_expired_token_marks_the_channel(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    _user, contact_id = await first_contact(tenant, anon, fake, channel)
    channel.number.expire_token()
    await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/messages", json={"text": "hello", "inboxId": channel.id}
    )
    await sent_out(channel.id)
    assert (await messages(tenant, contact_id))[-1]["status"] == "failed"
    async with db.get_database().sessionmaker() as session:
        inbox = await session.get(Inbox, int(channel.id))
    assert inbox is not None and inbox.status == "needs_attention"
    assert inbox.status_reason and "Session has expired" in inbox.status_reason


async def test_throughput_limit_delays_then_delivers(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    _user, contact_id = await first_contact(tenant, anon, fake, channel)
    fake.fail_next(1, 130429)  # Meta: "(#130429) Rate limit hit", retried after a second
    await tenant.client.post(
        f"/api/v1/contacts/{contact_id}/messages", json={"text": "patience", "inboxId": channel.id}
    )
    await sent_out(channel.id)
    refused, accepted = fake.sends()
    assert refused.status == 429 and refused.response["error"]["code"] == 130429
    assert accepted.status == 200 and accepted.json == refused.json
    assert accepted.at - refused.at >= 0.9  # retry_after (1 s) was honoured
    assert (await messages(tenant, contact_id))[-1]["status"] == "sent"
