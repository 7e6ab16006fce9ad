"""Messenger end to end through the real app and the fake Graph API: connect a Page through the API, signed
webhooks in through /webhooks/messenger/{inboxId} -> contact, conversation, message; replies through the
API -> dispatcher -> at the fake in the exact Send API format; receipts and echoes; the window and tags."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from chatbotx.inbound import worker
from chatbotx.kit import db
from chatbotx.models import ContactInbox, Conversation, Event, InboundEvent, Inbox, Message
from chatbotx.settings import get_settings
from tests.conftest import Tenant
from tests.e2e.helpers import conversation_of, count, identity, messages, sent_out
from tests.fakes.meta import MessagingNode, MetaGraphFake, Page, serve_fake_meta
from tests.polling import no_pending, wait_for

PSID = "24080000000000001"


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
    """A connected channel: its id, webhook path, and the fake Page (or Instagram account) behind it."""

    def __init__(self, data: dict[str, Any], node: MessagingNode, channel: str):
        self.data = data
        self.id: str = data["id"]
        self.path = f"/webhooks/{channel}/{self.id}"
        self.node = node


async def connect(tenant: Tenant, fake: MetaGraphFake) -> Channel:
    page = fake.add_page(app_secret="e2e-app-secret")
    config = {"pageId": page.id, "pageAccessToken": page.access_token, "appSecret": page.app_secret}
    answer = await tenant.client.post(
        "/api/v1/channels", json={"name": "Messenger", "channel": "messenger", "config": config}
    )
    assert answer.status_code == 201, answer.text
    data = answer.json()
    assert data["webhookUrl"].endswith(f"/webhooks/messenger/{data['id']}")
    assert data["config"]["pageName"] == "ChatbotX Shop"
    assert sorted(data["secretKeys"]) == ["appSecret", "pageAccessToken"]
    return Channel(data, page, "messenger")


# ---- helpers shared with the Instagram flow


async def receive(
    fake: MetaGraphFake, channel: Channel, anon: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    """Deliver `payload` signed as Meta does, then wait (bounded) until the inbound job has handled it."""
    answer = await fake.deliver(channel.path, payload, app_secret=channel.node.app_secret, client=anon)
    assert answer.status_code == 200, answer.text
    await worker.drain(int(channel.id))
    await wait_for(lambda: no_pending(int(channel.id)))


async def first_contact(
    anon: httpx.AsyncClient, fake: MetaGraphFake, channel: Channel, source_id: str
) -> tuple[int, str]:
    """The contact writes "Hello!"; their contact id and conversation id."""
    user = channel.node.user(source_id)
    await receive(fake, channel, anon, channel.node.webhook(channel.node.text(user, "Hello!")))
    contact_id = (await identity(channel.id, source_id)).contact_id
    return contact_id, await conversation_of(contact_id)


async def last_wrote(channel: Channel, ago: dt.timedelta) -> None:
    """Move the contact's last message (the window's start) back by `ago`."""
    async with db.get_database().sessionmaker() as session:
        await session.execute(
            update(ContactInbox)
            .where(ContactInbox.inbox_id == int(channel.id))
            .values(last_inbound_at=dt.datetime.now(dt.UTC) - ago)
        )
        await db.commit(session)
    for user in channel.node.users.values():  # Meta's own clock agrees
        user.last_inbound = dt.datetime.now(dt.UTC).timestamp() - ago.total_seconds()


async def reply(tenant: Tenant, conversation_id: str, **body: Any) -> httpx.Response:
    return await tenant.client.post(f"/api/v1/conversations/{conversation_id}/messages", json=body)


async def check_windows(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake, channel: Channel, source_id: str
) -> None:
    """24 hours free-form, HUMAN_AGENT for 7 days, the update tags always; refusals before any call."""
    channel.node.enforce_window = True  # Meta itself would refuse with (#10) 2018278
    _contact_id, conversation_id = await first_contact(anon, fake, channel, source_id)
    await last_wrote(channel, dt.timedelta(hours=25))
    fake.requests.clear()

    refused = await reply(tenant, conversation_id, text="Still interested?")
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "OUTSIDE_WINDOW"
    assert "HUMAN_AGENT" in refused.json()["message"]
    unknown = await reply(tenant, conversation_id, text="Hi", tag="SHIPPING_UPDATE")
    assert unknown.status_code == 422 and unknown.json()["data"]["errors"][0]["field"] == "tag", unknown.text
    human = await reply(
        tenant, conversation_id, text="Sorry for the wait, here is your answer", tag="HUMAN_AGENT"
    )
    assert human.status_code == 201, human.text
    await sent_out(channel.id)
    [sent] = fake.sent()
    assert fake.sends() == [sent]  # the refused messages never reached Meta
    assert (sent.json["messaging_type"], sent.json["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert sent.json["message"]["text"] == "Sorry for the wait, here is your answer"

    await last_wrote(channel, dt.timedelta(days=8))
    late = await reply(tenant, conversation_id, text="Anyone?", tag="HUMAN_AGENT")
    assert late.status_code == 400 and late.json()["code"] == "OUTSIDE_WINDOW", late.text
    assert "7 days" in late.json()["message"]
    update_tag = await reply(
        tenant, conversation_id, text="Your booking is confirmed", tag="CONFIRMED_EVENT_UPDATE"
    )
    assert update_tag.status_code == 201, update_tag.text
    await sent_out(channel.id)
    assert len(fake.sends()) == 2 and fake.sent()[-1].json["tag"] == "CONFIRMED_EVENT_UPDATE"
    statuses = [
        m["status"]
        for m in (await tenant.client.get(f"/api/v1/conversations/{conversation_id}/messages")).json()["data"]
    ]
    assert statuses[:2] == ["sent", "sent"]


# --------------------------------------------------------------------------------------------- connect


async def test_connect_subscribes_and_answers_the_handshake(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    check, subscribe = fake.requests
    assert (check.path, check.query["fields"]) == (f"/v22.0/{channel.node.id}", "id,name")
    assert check.token == channel.node.access_token and check.query["appsecret_proof"]
    assert subscribe.path == f"/v22.0/{channel.node.id}/subscribed_apps"
    assert "messages" in channel.node.subscribed_fields and "message_echoes" in channel.node.subscribed_fields
    verify_token = channel.data["verifyToken"]
    ok = await fake.verify_subscription(channel.path, verify_token, challenge="1158201444", client=anon)
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert (await fake.verify_subscription(channel.path, "guessed", client=anon)).status_code == 403


async def test_connect_with_a_bad_token_stores_nothing(tenant: Tenant, fake: MetaGraphFake) -> None:
    page = fake.add_page()
    config = {"pageId": page.id, "pageAccessToken": "EAAPwrong", "appSecret": page.app_secret}
    answer = await tenant.client.post(
        "/api/v1/channels", json={"name": "Bad", "channel": "messenger", "config": config}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "CHANNEL_CONNECT_FAILED"
    assert "Invalid OAuth access token" in answer.json()["message"]
    missing = await tenant.client.post(
        "/api/v1/channels",
        json={"name": "Bad", "channel": "messenger", "config": {"pageId": page.id, "appSecret": "x"}},
    )
    assert missing.status_code == 422, missing.text
    assert missing.json()["data"]["errors"][0]["field"] == "config.pageAccessToken"
    assert (await tenant.client.get("/api/v1/channels")).json()["data"] == []


# --------------------------------------------------------------------------------------------- inbound


async def test_inbound_kinds_are_stored(tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake) -> None:
    channel = await connect(tenant, fake)
    page = channel.node
    user = page.user(PSID)
    photo = page.attachment(user, "image", b"\xff\xd8\xff\xe0 the receipt")
    payload = page.webhook(
        page.text(user, "Hello World"),
        photo,
        page.text(user, "Red", quick_reply="RED"),
        page.postback(user, "Get Started", "GET_STARTED"),
    )
    await receive(fake, channel, anon, payload)
    contact_id = (await identity(channel.id, PSID)).contact_id
    text, image, quick, postback = await messages(tenant, contact_id)
    assert (text["direction"], text["contentType"], text["content"]) == ("incoming", "text", "Hello World")
    assert text["providerMessageId"] == payload["entry"][0]["messaging"][0]["message"]["mid"]
    assert image["contentType"] == "image"
    content = await tenant.client.get(f"/api/v1/files/{image['attachments'][0]['fileId']}/content")
    assert content.status_code == 200 and content.content == b"\xff\xd8\xff\xe0 the receipt"
    cdn = [r for r in fake.requests if r.edge == "cdn"]
    assert cdn and all(r.token is None for r in cdn)  # the Page token never goes to the CDN
    assert (quick["contentType"], quick["content"], quick["contentAttributes"]["payload"]) == (
        "button",
        "Red",
        "RED",
    )
    assert (postback["contentType"], postback["content"], postback["contentAttributes"]["payload"]) == (
        "button",
        "Get Started",
        "GET_STARTED",
    )


async def test_forged_or_missing_signature_stores_nothing(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    payload = channel.node.webhook(channel.node.text(channel.node.user(PSID), "let me in"))
    forged = MetaGraphFake.sign(MetaGraphFake.encode(payload), "not-the-app-secret")
    for signature in (forged, None):
        answer = await fake.deliver(channel.path, payload, signature=signature, client=anon)
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "INVALID_SIGNATURE"
    await worker.drain(int(channel.id))
    assert await count(InboundEvent, channel.id) == 0
    assert await count(Message, channel.id) == 0


async def test_a_redelivered_webhook_is_stored_once(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    payload = channel.node.webhook(channel.node.text(channel.node.user(PSID), "twice?"))
    await receive(fake, channel, anon, payload)
    await receive(fake, channel, anon, payload)
    assert await count(InboundEvent, channel.id) == 1
    assert await count(Message, channel.id) == 1
    assert await count(Conversation, channel.id) == 1


# --------------------------------------------------------------------------------------------- outbound


async def test_reply_goes_out_in_the_send_api_format_and_receipts_move_it(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    page: Page = channel.node  # type: ignore[assignment]
    contact_id, conversation_id = await first_contact(anon, fake, channel, PSID)
    answer = await reply(
        tenant,
        conversation_id,
        text="Pick a color:",
        quickReplies=[{"title": "Red", "payload": "RED"}, "Green"],
    )
    assert answer.status_code == 201, answer.text
    message_id = answer.json()["id"]
    await sent_out(channel.id)
    [sent] = fake.sent()
    assert sent.path == f"/v22.0/{page.id}/messages" and sent.token == page.access_token
    assert sent.json == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {
            "text": "Pick a color:",
            "quick_replies": [
                {"content_type": "text", "title": "Red", "payload": "RED"},
                {"content_type": "text", "title": "Green", "payload": "Green"},
            ],
            "metadata": f"chatbotx:{message_id}",
        },
    }
    mid = sent.response["message_id"]
    assert (await messages(tenant, contact_id))[-1]["providerMessageId"] == mid

    # Meta echoes our own send: it is not stored a second time
    await receive(fake, channel, anon, page.webhook(page.echo_of(mid)))
    assert await count(Message, channel.id) == 2
    # delivery names the message
    await receive(fake, channel, anon, page.webhook(page.delivery(page.user(PSID), [mid])))
    assert (await messages(tenant, contact_id))[-1]["status"] == "delivered"


async def test_read_watermark_marks_earlier_messages_read(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    page = channel.node
    contact_id, conversation_id = await first_contact(anon, fake, channel, PSID)
    for text in ("one", "two"):
        assert (await reply(tenant, conversation_id, text=text)).status_code == 201
        await sent_out(channel.id)
    await receive(fake, channel, anon, page.webhook(page.read(page.user(PSID))))
    assert [m["status"] for m in (await messages(tenant, contact_id))[1:]] == ["read", "read"]


async def test_buttons_media_and_limits(tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake) -> None:
    channel = await connect(tenant, fake)
    _contact_id, conversation_id = await first_contact(anon, fake, channel, PSID)
    buttons = [{"title": "Change", "payload": "CHANGE"}, {"title": "Site", "url": "https://shop.example.com"}]
    assert (await reply(tenant, conversation_id, text="Change or visit?", buttons=buttons)).status_code == 201
    files = ["https://files.example.com/invoice.pdf"]
    assert (await reply(tenant, conversation_id, text="Your invoice", files=files)).status_code == 201
    await sent_out(channel.id)
    template, invoice, caption = (r.json["message"] for r in fake.sent())
    assert template["attachment"] == {
        "type": "template",
        "payload": {
            "template_type": "button",
            "text": "Change or visit?",
            "buttons": [
                {"type": "postback", "title": "Change", "payload": "CHANGE"},
                {"type": "web_url", "url": "https://shop.example.com", "title": "Site"},
            ],
        },
    }
    assert invoice["attachment"] == {
        "type": "file",
        "payload": {"url": "https://files.example.com/invoice.pdf", "is_reusable": True},
    }
    assert caption["text"] == "Your invoice"
    before = await count(Message, channel.id)
    for body, field in (
        ({"text": "x", "buttons": [{"title": str(i), "payload": str(i)} for i in range(4)]}, "buttons"),
        ({"text": "x", "buttons": [{"title": "A title much too long", "payload": "A"}]}, "buttons"),
        ({"text": "x", "quickReplies": ["A quick reply too long"]}, "quickReplies"),
        ({"text": "x", "quickReplies": [str(i) for i in range(14)]}, "quickReplies"),
        ({"template": {"name": "hello", "language": "en_US"}}, "template"),
    ):
        refused = await reply(tenant, conversation_id, **body)
        assert refused.status_code == 422, refused.text
        assert field in refused.text
    assert await count(Message, channel.id) == before  # nothing queued


async def test_windows_and_message_tags(tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake) -> None:
    channel = await connect(tenant, fake)
    await check_windows(tenant, anon, fake, channel, PSID)


async def test_send_message_takes_a_tag_too(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    """sendMessage (POST /contacts/{id}/messages) sends with a message tag as a reply does: HUMAN_AGENT
    outside the 24 hours, an unknown tag a 422, nothing sent for the refusals."""
    channel = await connect(tenant, fake)
    channel.node.enforce_window = True
    contact_id, _conversation_id = await first_contact(anon, fake, channel, PSID)
    await last_wrote(channel, dt.timedelta(hours=30))
    fake.requests.clear()

    async def send(**body: Any) -> httpx.Response:
        return await tenant.client.post(f"/api/v1/contacts/{contact_id}/messages", json=body)

    refused = await send(text="Still there?")
    assert refused.status_code == 400 and refused.json()["code"] == "OUTSIDE_WINDOW", refused.text
    unknown = await send(text="Hi", tag="SHIPPING_UPDATE")
    assert unknown.status_code == 422 and unknown.json()["data"]["errors"][0]["field"] == "tag", unknown.text
    human = await send(text="Here is your answer", tag="HUMAN_AGENT")
    assert human.status_code == 204, human.text
    await sent_out(channel.id)
    [sent] = fake.sent()
    assert fake.sends() == [sent]
    assert (sent.json["messaging_type"], sent.json["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert sent.json["message"]["text"] == "Here is your answer"


async def test_echo_from_the_page_inbox_is_stored_as_outgoing(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    page = channel.node
    contact_id, conversation_id = await first_contact(anon, fake, channel, PSID)
    await last_wrote(channel, dt.timedelta(hours=30))
    before = await identity(channel.id, PSID)
    await receive(
        fake, channel, anon, page.webhook(page.echo(page.user(PSID), "Answered from the Page inbox"))
    )
    echoed = (await messages(tenant, contact_id))[-1]
    assert (echoed["direction"], echoed["senderType"], echoed["status"], echoed["content"]) == (
        "outgoing",
        "agent",
        "sent",
        "Answered from the Page inbox",
    )
    assert (await identity(channel.id, PSID)).last_inbound_at == before.last_inbound_at  # no window opened
    refused = await reply(tenant, conversation_id, text="still closed")
    assert refused.status_code == 400 and refused.json()["code"] == "OUTSIDE_WINDOW"


async def test_typing_indicator(tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake) -> None:
    channel = await connect(tenant, fake)
    _contact_id, conversation_id = await first_contact(anon, fake, channel, PSID)
    for typing in (True, False):
        answer = await tenant.client.post(
            f"/api/v1/conversations/{conversation_id}/typing", json={"typing": typing}
        )
        assert answer.status_code == 204, answer.text
    assert [a["sender_action"] for a in channel.node.actions] == ["typing_on", "typing_off"]
    # an agent reading the conversation shows it as seen; a refusal does not fail the read
    assert (await tenant.client.post(f"/api/v1/conversations/{conversation_id}/read")).status_code == 200
    assert channel.node.actions[-1] == {"recipient": {"id": PSID}, "sender_action": "mark_seen"}
    fake.fail_next(1, "server_error")
    assert (await tenant.client.post(f"/api/v1/conversations/{conversation_id}/read")).status_code == 200
    assert len(channel.node.actions) == 3
    async with db.get_database().sessionmaker() as session:
        typing_events = (
            await session.execute(
                select(Event.type, Event.payload)
                .where(
                    Event.workspace_id == int(tenant.workspace_id),
                    Event.type.in_(("conversation.typing_on", "conversation.typing_off")),
                )
                .order_by(Event.id)
            )
        ).all()
    assert [(t, p["conversationId"], p["typing"]) for t, p in typing_events] == [
        ("conversation.typing_on", conversation_id, True),
        ("conversation.typing_off", conversation_id, False),
    ]
    await last_wrote(channel, dt.timedelta(days=2))
    outside = await tenant.client.post(
        f"/api/v1/conversations/{conversation_id}/typing", json={"typing": True}
    )
    assert outside.status_code == 400 and outside.json()["code"] == "OUTSIDE_WINDOW"
    assert (await tenant.client.post(f"/api/v1/conversations/{conversation_id}/read")).status_code == 200
    assert len(channel.node.actions) == 3  # no "seen" outside the window
    bad = await tenant.client.post(
        f"/api/v1/conversations/{conversation_id}/typing", json={"typing": "maybe"}
    )
    assert bad.status_code == 422


async def test_blocked_contact_and_expired_token(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    _contact_id, conversation_id = await first_contact(anon, fake, channel, PSID)
    channel.node.unavailable.add(PSID)
    assert (await reply(tenant, conversation_id, text="hello?")).status_code == 201
    await sent_out(channel.id)
    assert (await identity(channel.id, PSID)).unreachable_reason == "BLOCKED_BY_USER"
    again = await reply(tenant, conversation_id, text="hello again?")
    assert again.status_code == 400 and again.json()["code"] == "CONTACT_UNREACHABLE"

    other, other_conversation = await first_contact(anon, fake, channel, "24080000000000002")
    channel.node.expire_token()
    assert (await reply(tenant, other_conversation, text="hi")).status_code == 201
    await sent_out(channel.id)
    assert (await messages(tenant, other))[-1]["status"] == "failed"
    async with db.get_database().sessionmaker() as session:
        inbox = await session.get(Inbox, int(channel.id))
    assert inbox is not None and inbox.status == "needs_attention"
    assert inbox.status_reason and "Session has expired" in inbox.status_reason


async def test_throttling_is_retried(tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake) -> None:
    channel = await connect(tenant, fake)
    contact_id, conversation_id = await first_contact(anon, fake, channel, PSID)
    fake.fail_next(1, (429, {"error": {"message": "Request limit reached", "type": "OAuthException"}}))
    assert (await reply(tenant, conversation_id, text="patience")).status_code == 201
    await sent_out(channel.id)
    refused, accepted = fake.sends()
    assert refused.status == 429 and accepted.status == 200 and accepted.json == refused.json
    assert (await messages(tenant, contact_id))[-1]["status"] == "sent"
