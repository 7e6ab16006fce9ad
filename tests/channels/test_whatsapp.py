"""The WhatsApp adapter against the fake Graph API: parsing, signatures, handshake, sends, errors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from chatbotx.channels import registry
from chatbotx.channels.base import (
    INVALID_MESSAGE,
    INVALID_RECIPIENT,
    OUTSIDE_WINDOW,
    PROVIDER_ERROR,
    PROVIDER_UNAVAILABLE,
    RATE_LIMITED,
    TOKEN_INVALID,
    Attachment,
    Button,
    ChannelContext,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    ProviderError,
    Template,
    WebhookRequest,
)
from chatbotx.channels.whatsapp import WhatsAppAdapter, signature_of
from chatbotx.kit.errors import InvalidData
from chatbotx.settings import get_settings
from tests.fakes.meta import MetaGraphFake, WhatsAppNumber, serve_fake_meta

adapter = WhatsAppAdapter()
TO = "16505551234"


@pytest.fixture(scope="module")
def fake() -> Iterator[MetaGraphFake]:
    with serve_fake_meta() as server:
        yield server


@pytest.fixture
def number(fake: MetaGraphFake, monkeypatch: pytest.MonkeyPatch) -> WhatsAppNumber:
    monkeypatch.setattr(get_settings(), "meta_graph_api_base", fake.base_url)
    fake.reset()
    return fake.add_whatsapp_number(app_secret="app-secret-1")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def context(number: WhatsAppNumber, http: httpx.AsyncClient, **config: Any) -> ChannelContext:
    credentials = {
        "accessToken": number.access_token,
        "appSecret": number.app_secret,
        "verifyToken": "vt-123",
    }
    for key in list(config):
        if key in credentials:
            credentials[key] = config.pop(key)
    return ChannelContext(
        inbox_id=7,
        workspace_id=1,
        config={"phoneNumberId": number.id, "wabaId": number.waba_id, **config},
        credentials={k: v for k, v in credentials.items() if v is not None},
        http=http,
        public_url="http://chatbotx.test",
    )


def webhook(number: WhatsAppNumber, payload: dict[str, Any], signature: str | None = None) -> WebhookRequest:
    body = MetaGraphFake.encode(payload)
    headers = {"content-type": "application/json"}
    headers["x-hub-signature-256"] = (
        signature if signature is not None else signature_of(number.app_secret, body)
    )
    return WebhookRequest(method="POST", headers=headers, query={}, body=body)


def parse(number: WhatsAppNumber, http: httpx.AsyncClient, payload: dict[str, Any]) -> list[Any]:
    return adapter.parse(context(number, http), webhook(number, payload))


def only_message(events: list[Any]) -> InboundMessage:
    assert len(events) == 1 and isinstance(events[0], InboundMessage)
    return events[0]


def out(**fields: Any) -> OutboundMessage:
    return OutboundMessage(message_id=1, recipient=TO, **fields)


def envelope(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": kind,
        kind: content,
    }


# --------------------------------------------------------------------------------------------- registry/plan


def test_registered_and_plan() -> None:
    assert isinstance(registry.get("whatsapp"), WhatsAppAdapter)
    assert WhatsAppAdapter.window == dt.timedelta(hours=24)
    plan = adapter.rate_plan({})
    assert (plan.per_second, plan.burst) == (80, 45)
    assert plan.per_recipient_per_second == pytest.approx(1 / 6)
    assert adapter.rate_plan({"messagesPerSecond": 500}).per_second == 500
    assert adapter.rate_plan({"messagesPerSecond": 5000}).per_second == 1000
    assert adapter.rate_plan({"messagesPerSecond": "fast"}).per_second == 80


# --------------------------------------------------------------------------------------------- parse


def test_parse_text_profile_and_phone(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    user = number.user(TO, "Sheena Van Nelson")
    text = number.text(user, "Does it come in another colour? ✓ https://x.test/a", reply_to="wamid.PREV")
    message = only_message(parse(number, http, number.webhook(text)))
    assert message.source_id == TO
    assert message.provider_message_id == text["id"]
    assert (message.content_type, message.text) == (
        "text",
        "Does it come in another colour? ✓ https://x.test/a",
    )
    assert message.profile.first_name == "Sheena"
    assert message.profile.last_name == "Van Nelson"
    assert message.profile.phone_number == "+16505551234"
    assert message.attributes == {"replyTo": "wamid.PREV"}
    assert message.sent_at is not None and message.sent_at.tzinfo is not None


def test_parse_single_word_name_and_no_profile(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    user = number.user("447700900123", "Cher")
    message = only_message(parse(number, http, number.webhook(number.text(user, "hi"))))
    assert (message.profile.first_name, message.profile.last_name) == ("Cher", None)
    payload = number.webhook(number.text(user, "hi"))
    del payload["entry"][0]["changes"][0]["value"]["contacts"]
    message = only_message(parse(number, http, payload))
    assert message.profile.first_name is None and message.profile.phone_number == "+447700900123"


@pytest.mark.parametrize(
    ("build", "content_type", "kind", "mime", "extra"),
    [
        (lambda n, u: n.image(u, caption="look"), "image", "image", "image/jpeg", {}),
        (lambda n, u: n.video(u, caption="look"), "video", "video", "video/mp4", {}),
        (lambda n, u: n.audio(u, voice=True), "audio", "audio", "audio/ogg; codecs=opus", {"voice": True}),
        (lambda n, u: n.document(u, caption="look"), "file", "file", "application/pdf", {}),
        (lambda n, u: n.sticker(u, animated=True), "sticker", "sticker", "image/webp", {"animated": True}),
    ],
)
def test_parse_media(
    number: WhatsAppNumber,
    http: httpx.AsyncClient,
    build: Any,
    content_type: str,
    kind: str,
    mime: str,
    extra: Any,
) -> None:
    raw = build(number, number.user(TO))
    message = only_message(parse(number, http, number.webhook(raw)))
    assert message.content_type == content_type
    [attachment] = message.attachments
    media = raw[raw["type"]]
    assert attachment.kind == kind
    assert attachment.provider_file_id == media["id"]
    assert attachment.mime_type == mime
    assert attachment.caption == media.get("caption")
    assert message.text == media.get("caption")
    assert message.attributes == extra
    if kind == "file":
        assert attachment.filename == "invoice.pdf"


def test_parse_interactive_replies(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    user = number.user(TO)
    button = number.button_reply(user, "change", "Change", to_message="wamid.OURS")
    row = number.list_reply(user, "plan-b", "Plan B", "The cheaper one")
    quick = number.template_button(user, "CONFIRM", "Yes, confirm")
    events = parse(number, http, number.webhook(button, row, quick))
    assert [e.content_type for e in events] == ["button", "button", "button"]
    assert (events[0].text, events[0].attributes["payload"]) == ("Change", "change")
    assert events[0].attributes["replyTo"] == "wamid.OURS"
    assert events[0].attributes["interactiveType"] == "button_reply"
    assert (events[1].text, events[1].attributes["payload"]) == ("Plan B", "plan-b")
    assert events[1].attributes["description"] == "The cheaper one"
    assert (events[2].text, events[2].attributes["payload"]) == ("Yes, confirm", "CONFIRM")


def test_parse_location_contacts_reaction_unsupported(
    number: WhatsAppNumber, http: httpx.AsyncClient
) -> None:
    user = number.user(TO)
    pin = number.location(user, 37.4611978, -122.2164385, name="Facebook HQ", address="1 Hacker Way")
    bare_pin = number.location(user, 12.25, 43.9)
    cards = number.contacts(
        user, ("Chandler", "Bing", "+1 555-555-5555"), ("Monica", None, "+1 666-666-6666")
    )
    reaction = number.reaction(user, "wamid.OURS")
    unknown = number.unsupported(user)
    order = number.text(user, "x")
    order.update({"type": "order", "order": {"catalog_id": "1", "product_items": []}})
    order.pop("text")
    events = parse(number, http, number.webhook(pin, bare_pin, cards, reaction, unknown, order))
    assert [e.content_type for e in events] == [
        "location",
        "location",
        "contact",
        "unsupported",
        "unsupported",
    ]
    assert events[0].attributes["location"] == {
        "latitude": 37.4611978,
        "longitude": -122.2164385,
        "name": "Facebook HQ",
        "address": "1 Hacker Way",
        "url": "https://maps.google.com/?cid=2000000000000000000",
    }
    assert events[1].attributes["location"] == {"latitude": 12.25, "longitude": 43.9}
    chandler, monica = events[2].attributes["contacts"]
    assert (chandler["firstName"], chandler["lastName"], chandler["name"]) == (
        "Chandler",
        "Bing",
        "Chandler Bing",
    )
    assert chandler["phoneNumber"] == "+1 555-555-5555"
    assert chandler["phones"] == [{"phone": "+1 555-555-5555", "waId": "15555555555", "type": "CELL"}]
    assert (monica["firstName"], monica["lastName"]) == ("Monica", None)
    # reactions are skipped; unknown kinds keep their raw form for whoever looks
    assert events[3].attributes["type"] == "unsupported" and events[3].attributes["raw"]["errors"]
    assert events[4].attributes["type"] == "order"


def test_parse_statuses(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    payload = number.status_webhook(
        number.status("wamid.A", "sent", recipient=TO),
        number.status("wamid.A", "delivered", recipient=TO),
        number.status("wamid.A", "read", recipient=TO),
        number.status("wamid.V", "played", recipient=TO),
        number.status("wamid.B", "failed", recipient=TO, error=131047),
        number.status("wamid.C", "failed", recipient=TO, error=131026),
        number.status("wamid.D", "deleted", recipient=TO),
    )
    events = parse(number, http, payload)
    assert all(isinstance(e, InboundStatus) for e in events)
    assert [(e.provider_message_id, e.status) for e in events] == [
        ("wamid.A", "sent"),
        ("wamid.A", "delivered"),
        ("wamid.A", "read"),
        ("wamid.V", "read"),
        ("wamid.B", "failed"),
        ("wamid.C", "failed"),
    ]
    assert events[0].recipient_source_id == TO and events[0].error_code is None and events[0].at is not None
    assert events[4].error_code == OUTSIDE_WINDOW
    assert events[4].error_message.startswith("(#131047) Re-engagement message: Message failed to send")
    assert events[5].error_code == INVALID_RECIPIENT


def test_parse_several_entries_changes_and_numbers(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    alice, bob = number.user("4915112345678", "Alice A"), number.user("33612345678", "Bob B")
    first = number.webhook(number.text(alice, "one"), number.text(bob, "two"))
    second = number.webhook(number.text(alice, "three"), statuses=[number.status("wamid.Z", "delivered")])
    other_number = number.fake.add_whatsapp_number()
    foreign = other_number.webhook(other_number.text(other_number.user(TO), "not ours"))
    template_update = {"field": "message_template_status_update", "value": {"event": "APPROVED"}}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": number.waba_id, "changes": [*first["entry"][0]["changes"], template_update]},
            second["entry"][0],
            foreign["entry"][0],
        ],
    }
    events = parse(number, http, payload)
    assert [getattr(e, "text", None) or e.status for e in events] == ["one", "two", "three", "delivered"]
    assert [e.profile.first_name for e in events[:3]] == ["Alice", "Bob", "Alice"]
    assert events[1].profile.phone_number == "+33612345678"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"object":"page","entry":[]}',
        b'{"object":"whatsapp_business_account","entry":[7]}',
    ],
)
def test_parse_garbage_is_empty(number: WhatsAppNumber, http: httpx.AsyncClient, body: bytes) -> None:
    request = WebhookRequest("POST", {}, {}, body)
    assert adapter.parse(context(number, http), request) == []


# ------------------------------------------------------------------------------------------- verify/handshake


def test_signature(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    ctx = context(number, http)
    payload = number.webhook(number.text(number.user(TO), "héllo / ✓"))
    raw = MetaGraphFake.encode(payload)
    good = webhook(number, payload)
    assert adapter.verify(ctx, good)
    assert good.headers["x-hub-signature-256"] == MetaGraphFake.sign(raw, number.app_secret)
    # the same JSON re-serialised has other bytes: only the raw body's signature is valid
    reserialised = json.dumps(json.loads(raw)).encode()
    assert reserialised != raw
    assert not adapter.verify(ctx, WebhookRequest("POST", good.headers, {}, reserialised))
    assert not adapter.verify(ctx, WebhookRequest("POST", good.headers, {}, raw + b" "))
    forged = "sha256=" + signature_of("another-secret", raw).removeprefix("sha256=")
    assert not adapter.verify(ctx, webhook(number, payload, signature=forged))
    assert not adapter.verify(ctx, webhook(number, payload, signature=""))
    assert not adapter.verify(
        ctx, webhook(number, payload, signature=good.headers["x-hub-signature-256"][7:])
    )
    assert not adapter.verify(ctx, WebhookRequest("POST", {}, {}, raw))
    assert not adapter.verify(context(number, http, appSecret=None), good)


async def test_handshake(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    ctx = context(number, http)

    async def answer(query: dict[str, str], method: str = "GET") -> tuple[int, bytes] | None:
        return await adapter.handshake(ctx, WebhookRequest(method, {}, query, b""))

    ok = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "vt-123"}
    assert await answer(ok) == (200, b"1158201444")
    assert await answer({**ok, "hub.verify_token": "wrong"}) == (403, b"Forbidden")
    assert await answer({**ok, "hub.mode": "unsubscribe"}) == (403, b"Forbidden")
    assert await answer({}) is None
    assert await answer(ok, "POST") is None
    no_token = context(number, http, verifyToken=None)
    assert await adapter.handshake(no_token, WebhookRequest("GET", {}, ok, b"")) == (403, b"Forbidden")


# ------------------------------------------------------------------------------------------- connect/download


async def test_connect(number: WhatsAppNumber, fake: MetaGraphFake, http: httpx.AsyncClient) -> None:
    added = await adapter.connect(context(number, http))
    assert added == {
        "displayPhoneNumber": "+1 555-078-3881",
        "verifiedName": "ChatbotX Shop",
        "phoneNumber": "+15550783881",
    }
    [request] = fake.requests
    assert (request.method, request.path) == ("GET", f"/v21.0/{number.id}")
    assert request.query == {"fields": "display_phone_number,verified_name"}
    assert request.headers["authorization"] == f"Bearer {number.access_token}"
    await adapter.connect(context(number, http, apiVersion="v19.0"))
    assert fake.requests[-1].path == f"/v19.0/{number.id}"


async def test_connect_failures(number: WhatsAppNumber, fake: MetaGraphFake, http: httpx.AsyncClient) -> None:
    with pytest.raises(ProviderError) as wrong:
        await adapter.connect(context(number, http, accessToken="EAAGwrong"))
    assert wrong.value.code == TOKEN_INVALID and "Invalid OAuth access token" in wrong.value.message
    number.expire_token()
    with pytest.raises(ProviderError) as expired:
        await adapter.connect(context(number, http))
    assert expired.value.code == TOKEN_INVALID and "Session has expired" in expired.value.message
    assert expired.value.provider_code == 190
    other = fake.add_whatsapp_number()
    with pytest.raises(InvalidData) as unknown:
        await adapter.connect(context(other, http, phoneNumberId="999999"))
    assert "does not know this phone number id" in unknown.value.message
    for missing in ("accessToken", "appSecret", "phoneNumberId"):
        with pytest.raises(InvalidData) as invalid:
            await adapter.connect(context(other, http, **{missing: None}))
        assert invalid.value.data == {"field": f"config.{missing}"} or missing in str(invalid.value.data)
    with pytest.raises(InvalidData):
        await adapter.connect(context(other, http, messagesPerSecond=5000))
    with pytest.raises(InvalidData):
        await adapter.connect(context(other, http, apiVersion="latest"))


async def test_connect_unreachable(
    number: WhatsAppNumber, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "meta_graph_api_base", "http://127.0.0.1:9")
    with pytest.raises(ProviderError) as down:
        await adapter.connect(context(number, http))
    assert down.value.code == PROVIDER_UNAVAILABLE and down.value.retryable


async def test_download(number: WhatsAppNumber, fake: MetaGraphFake, http: httpx.AsyncClient) -> None:
    raw = number.image(number.user(TO), b"\xff\xd8\xff\xe0 real bytes")
    [attachment] = only_message(parse(number, http, number.webhook(raw))).attachments
    content, mime = await adapter.download(context(number, http), attachment)
    assert (content, mime) == (b"\xff\xd8\xff\xe0 real bytes", "image/jpeg")
    lookup, download = fake.requests
    assert lookup.path == f"/v21.0/{attachment.provider_file_id}"
    assert (
        download.path == "/whatsapp_business/attachments/"
        and download.query["mid"] == attachment.provider_file_id
    )
    assert download.headers["authorization"] == f"Bearer {number.access_token}"
    with pytest.raises(ProviderError) as denied:
        await adapter.download(context(number, http, accessToken="EAAGwrong"), attachment)
    assert denied.value.code == TOKEN_INVALID


# --------------------------------------------------------------------------------------------- send formats


async def send(number: WhatsAppNumber, http: httpx.AsyncClient, message: OutboundMessage) -> list[Any]:
    """Send and return the bodies the fake accepted; the result is the last accepted wamid."""
    fake = number.fake
    before = len(fake.sent())
    result = await adapter.send(context(number, http), message)
    accepted = fake.sent()[before:]
    assert accepted and result.provider_message_id == accepted[-1].response["messages"][0]["id"]
    assert result.provider_message_id.startswith("wamid.")
    for request in accepted:
        assert request.path == f"/v21.0/{number.id}/messages"
        assert request.headers["authorization"] == f"Bearer {number.access_token}"
        assert request.headers["content-type"] == "application/json"
        assert request.response["contacts"] == [{"input": TO, "wa_id": TO}]
    return [r.json for r in accepted]


async def test_send_text(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    assert await send(number, http, out(text="Here's the info you requested!")) == [
        envelope("text", {"preview_url": False, "body": "Here's the info you requested!"})
    ]


async def test_send_media(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    image = Attachment(kind="image", url="https://files.test/a.png")
    assert await send(number, http, out(text="The best succulent ever?", attachments=[image])) == [
        envelope("image", {"link": "https://files.test/a.png", "caption": "The best succulent ever?"})
    ]
    document = Attachment(kind="file", url="https://files.test/i.pdf", filename="invoice.pdf")
    assert await send(number, http, out(text="Invoice", attachments=[document])) == [
        envelope(
            "document", {"link": "https://files.test/i.pdf", "caption": "Invoice", "filename": "invoice.pdf"}
        )
    ]
    video = Attachment(kind="video", url="https://files.test/v.mp4", caption="own caption")
    assert await send(number, http, out(attachments=[video])) == [
        envelope("video", {"link": "https://files.test/v.mp4", "caption": "own caption"})
    ]
    # audio takes no caption: the text follows as its own message
    audio = Attachment(kind="audio", url="https://files.test/a.ogg")
    assert await send(number, http, out(text="Listen", attachments=[audio])) == [
        envelope("audio", {"link": "https://files.test/a.ogg"}),
        envelope("text", {"preview_url": False, "body": "Listen"}),
    ]
    stored = number.fake.add_media(b"webp", "image/webp", number.id)
    sticker = Attachment(kind="sticker", provider_file_id=stored.id)
    assert await send(number, http, out(attachments=[sticker])) == [envelope("sticker", {"id": stored.id})]
    # several attachments: one request each, the text as the last one's caption
    two = [
        Attachment(kind="image", url="https://files.test/1.png"),
        Attachment(kind="image", url="https://files.test/2.png"),
    ]
    assert await send(number, http, out(text="Both", attachments=two)) == [
        envelope("image", {"link": "https://files.test/1.png"}),
        envelope("image", {"link": "https://files.test/2.png", "caption": "Both"}),
    ]
    long_text = "x" * 1500  # too long for a caption: sent after the image
    bodies = await send(number, http, out(text=long_text, attachments=[image]))
    assert [b["type"] for b in bodies] == ["image", "text"] and bodies[1]["text"]["body"] == long_text


async def test_send_reply_buttons(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    buttons = [Button("Change", "change"), Button("Cancel", "cancel"), Button("Keep")]
    expected = envelope(
        "interactive",
        {
            "type": "button",
            "body": {"text": "Change or cancel?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "change", "title": "Change"}},
                    {"type": "reply", "reply": {"id": "cancel", "title": "Cancel"}},
                    {"type": "reply", "reply": {"id": "Keep", "title": "Keep"}},
                ]
            },
        },
    )
    assert await send(number, http, out(text="Change or cancel?", buttons=buttons)) == [expected]
    # quick replies become the same reply buttons
    assert await send(number, http, out(text="Change or cancel?", quick_replies=buttons)) == [expected]
    # an image goes along as the buttons' header
    image = Attachment(kind="image", url="https://files.test/h.jpg")
    [body] = await send(number, http, out(text="Pick", buttons=buttons[:1], attachments=[image]))
    assert body["interactive"]["header"] == {"type": "image", "image": {"link": "https://files.test/h.jpg"}}


async def test_send_list_for_more_buttons(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    buttons = [Button(f"Option {i}", f"opt-{i}") for i in range(1, 5)]
    assert await send(number, http, out(text="Choose", buttons=buttons)) == [
        envelope(
            "interactive",
            {
                "type": "list",
                "body": {"text": "Choose"},
                "action": {
                    "button": "Options",
                    "sections": [{"rows": [{"id": f"opt-{i}", "title": f"Option {i}"} for i in range(1, 5)]}],
                },
            },
        )
    ]
    # two buttons whose titles are too long for reply buttons (21-24 chars) also become a list
    [body] = await send(
        number, http, out(text="Choose", buttons=[Button("A title of 22 letters!", "a"), Button("b")])
    )
    assert body["interactive"]["type"] == "list"


async def test_send_link_buttons(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    assert await send(
        number, http, out(text="Track it", buttons=[Button("Track order", url="https://x.test/t")])
    ) == [
        envelope(
            "interactive",
            {
                "type": "cta_url",
                "body": {"text": "Track it"},
                "action": {
                    "name": "cta_url",
                    "parameters": {"display_text": "Track order", "url": "https://x.test/t"},
                },
            },
        )
    ]
    mixed = [Button("Yes", "yes"), Button("Terms", url="https://x.test/terms")]
    [body] = await send(number, http, out(text="Agree?", buttons=mixed))
    assert body["interactive"]["body"] == {"text": "Agree?\nTerms: https://x.test/terms"}
    assert [b["reply"]["id"] for b in body["interactive"]["action"]["buttons"]] == ["yes"]
    links = [Button("A", url="https://x.test/a"), Button("B", url="https://x.test/b")]
    assert await send(number, http, out(text="Links", buttons=links)) == [
        envelope("text", {"preview_url": False, "body": "Links\nA: https://x.test/a\nB: https://x.test/b"})
    ]


@pytest.mark.parametrize(
    "message",
    [
        out(text="Too many", buttons=[Button(f"B{i}") for i in range(11)]),
        out(text="Too long", buttons=[Button("a" * 25)]),
        out(buttons=[Button("No text")]),
        out(text="y" * 4097),
        out(),
        out(attachments=[Attachment(kind="image")]),
        out(text="Too long payload", buttons=[Button("ok", "p" * 257)]),
    ],
)
async def test_send_refused_before_any_call(
    number: WhatsAppNumber, fake: MetaGraphFake, http: httpx.AsyncClient, message: OutboundMessage
) -> None:
    with pytest.raises(ProviderError) as refused:
        await adapter.send(context(number, http), message)
    assert refused.value.code == INVALID_MESSAGE and not refused.value.retryable
    assert fake.sends() == []


async def test_send_template(number: WhatsAppNumber, http: httpx.AsyncClient) -> None:
    number.add_template("order_confirmation", "en_US", header=1, body=2)
    components = [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x.test/h.jpg"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "#1234"}]},
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": "OK"}],
        },
    ]
    template = Template(name="order_confirmation", language="en_US", components=components)
    bodies = await send(number, http, out(text="ignored", template=template))
    assert bodies == [
        envelope(
            "template",
            {"name": "order_confirmation", "language": {"code": "en_US"}, "components": components},
        )
    ]
    assert number.fake.sent()[-1].response["messages"][0]["message_status"] == "accepted"
    assert await send(number, http, out(template=Template("hello_world", "en_US"))) == [
        envelope("template", {"name": "hello_world", "language": {"code": "en_US"}})
    ]
    with pytest.raises(ProviderError) as missing:
        await adapter.send(context(number, http), out(template=Template("nope", "en_US")))
    assert missing.value.code == INVALID_MESSAGE and missing.value.provider_code == 132001
    assert "does not exist in en_US" in missing.value.message
    short = Template("order_confirmation", "en_US", components=components[1:2])
    with pytest.raises(ProviderError) as mismatch:
        await adapter.send(context(number, http), out(template=short))
    assert mismatch.value.code == INVALID_MESSAGE and mismatch.value.provider_code == 132000


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("error", "code", "retryable", "retry_after", "fragment"),
    [
        (131047, OUTSIDE_WINDOW, False, None, "more than 24 hours"),
        (131026, INVALID_RECIPIENT, False, None, "Undeliverable"),
        (190, TOKEN_INVALID, False, None, "Session has expired"),
        ("invalid_token", TOKEN_INVALID, False, None, "Invalid OAuth access token"),
        (130429, RATE_LIMITED, True, 1.0, "throughput"),
        (131056, RATE_LIMITED, True, 6.0, "pair rate limit"),
        (80007, RATE_LIMITED, True, 60.0, "Rate limit"),
        (613, RATE_LIMITED, True, 60.0, "exceeded the rate limit"),
        ("server_error", PROVIDER_UNAVAILABLE, True, None, "unknown error"),
        ("unavailable", PROVIDER_UNAVAILABLE, True, None, "retry your request later"),
        (131051, INVALID_MESSAGE, False, None, "Unsupported message type"),
        (368, PROVIDER_ERROR, False, None, "Temporarily blocked for policies violations"),
    ],
)
async def test_send_error_mapping(
    number: WhatsAppNumber,
    fake: MetaGraphFake,
    http: httpx.AsyncClient,
    error: int | str,
    code: str,
    retryable: bool,
    retry_after: float | None,
    fragment: str,
) -> None:
    fake.fail_next(1, error)
    with pytest.raises(ProviderError) as failed:
        await adapter.send(context(number, http), out(text="hi"))
    assert (failed.value.code, failed.value.retryable, failed.value.retry_after) == (
        code,
        retryable,
        retry_after,
    )
    assert fragment in failed.value.message
    assert failed.value.provider_code == fake.sends()[-1].response["error"]["code"]
    # the failure was for one send only
    await adapter.send(context(number, http), out(text="again"))


@pytest.mark.parametrize(
    ("status", "body", "headers", "code", "retryable"),
    [
        (
            403,
            {"error": {"message": "(#131056) pair rate limit hit", "code": 131056}},
            {},
            RATE_LIMITED,
            True,
        ),
        (429, {"error": {"message": "Too many calls", "code": 4}}, {}, RATE_LIMITED, True),
        (
            400,
            {
                "error": {
                    "message": "(#131009) Parameter value is not valid",
                    "code": 131009,
                    "error_data": {"details": "Recipient phone number not valid"},
                }
            },
            {},
            INVALID_RECIPIENT,
            False,
        ),
        (
            400,
            {
                "error": {
                    "message": "(#131009) Parameter value is not valid",
                    "code": 131009,
                    "error_data": {"details": "Button title length invalid"},
                }
            },
            {},
            INVALID_MESSAGE,
            False,
        ),
        (502, {}, {}, PROVIDER_UNAVAILABLE, True),
        (401, {}, {}, TOKEN_INVALID, False),
        (
            400,
            {"error": {"message": "(#131031) Business Account locked", "code": 131031}},
            {},
            PROVIDER_ERROR,
            False,
        ),
    ],
)
async def test_error_mapping_keys_on_code(
    number: WhatsAppNumber,
    fake: MetaGraphFake,
    http: httpx.AsyncClient,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    code: str,
    retryable: bool,
) -> None:
    fake.fail_next(1, (status, body))
    with pytest.raises(ProviderError) as failed:
        await adapter.send(context(number, http), out(text="hi"))
    assert (failed.value.code, failed.value.retryable) == (code, retryable)


async def test_network_failure_is_retryable(
    number: WhatsAppNumber, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "meta_graph_api_base", "http://127.0.0.1:9")
    with pytest.raises(ProviderError) as failed:
        await adapter.send(context(number, http), out(text="hi"))
    assert failed.value.code == PROVIDER_UNAVAILABLE and failed.value.retryable


async def test_fake_enforces_the_window_and_undeliverable(
    number: WhatsAppNumber, http: httpx.AsyncClient
) -> None:
    number.enforce_window = True
    with pytest.raises(ProviderError) as outside:
        await adapter.send(context(number, http), out(text="hello?"))
    assert outside.value.code == OUTSIDE_WINDOW
    await send(number, http, out(template=Template("hello_world", "en_US")))  # a template may go
    number.text(number.user(TO), "hi there")  # the user writes: the window opens
    await send(number, http, out(text="hello!"))
    number.undeliverable.add(TO)
    with pytest.raises(ProviderError) as undeliverable:
        await adapter.send(context(number, http), out(text="hello?"))
    assert undeliverable.value.code == INVALID_RECIPIENT
