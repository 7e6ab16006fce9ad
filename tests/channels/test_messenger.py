"""The Messenger adapter (and the Messenger Platform code it shares with Instagram, channels/meta.py) against
the fake Graph API: handshake, signatures, parsing, Send API bodies, sender actions, errors, connect."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from chatbotx.channels import meta, registry
from chatbotx.channels.base import (
    BLOCKED_BY_USER,
    INVALID_MESSAGE,
    INVALID_RECIPIENT,
    OUTSIDE_WINDOW,
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
from chatbotx.channels.messenger import SUBSCRIBED_FIELDS, MessengerAdapter
from chatbotx.kit.errors import InvalidData
from chatbotx.settings import get_settings
from tests.fakes.meta import MetaGraphFake, Page, serve_fake_meta

adapter = MessengerAdapter()
PSID = "24080000000000001"


@pytest.fixture(scope="module")
def fake() -> Iterator[MetaGraphFake]:
    with serve_fake_meta() as server:
        yield server


@pytest.fixture
def page(fake: MetaGraphFake, monkeypatch: pytest.MonkeyPatch) -> Page:
    monkeypatch.setattr(get_settings(), "meta_graph_api_base", fake.base_url)
    fake.reset()
    page = fake.add_page(app_secret="app-secret-1")
    page.user(PSID).last_inbound = 0.0
    return page


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def context(page: Page, http: httpx.AsyncClient, **config: Any) -> ChannelContext:
    credentials = {"pageAccessToken": page.access_token, "appSecret": page.app_secret}
    for key in list(config):
        if key in credentials:
            credentials[key] = config.pop(key)
    return ChannelContext(
        inbox_id=7,
        workspace_id=1,
        config={"pageId": page.id, "verifyToken": "vt-123", **config},
        credentials={k: v for k, v in credentials.items() if v is not None},
        http=http,
        public_url="http://chatbotx.test",
    )


def webhook(payload: dict[str, Any], secret: str, signature: str | None = None) -> WebhookRequest:
    body = MetaGraphFake.encode(payload)
    header = signature if signature is not None else meta.signature_of(secret, body)
    return WebhookRequest("POST", {"x-hub-signature-256": header}, {}, body)


def parse(page: Page, http: httpx.AsyncClient, payload: dict[str, Any], **config: Any) -> list[Any]:
    return adapter.parse(context(page, http, **config), webhook(payload, page.app_secret))


def out(**fields: Any) -> OutboundMessage:
    return OutboundMessage(message_id=42, recipient=PSID, **fields)


# ------------------------------------------------------------------------------------------ plan, handshake


def test_registered_plan_and_window() -> None:
    assert isinstance(registry.get("messenger"), MessengerAdapter)
    assert MessengerAdapter.window == dt.timedelta(hours=24)
    assert adapter.rate_plan({}).per_second == 300
    assert adapter.rate_plan({"messagesPerSecond": 50}).per_second == 50
    assert adapter.rate_plan({"messagesPerSecond": "many"}).per_second == 300


async def test_handshake_and_signature(page: Page, http: httpx.AsyncClient) -> None:
    ctx = context(page, http)
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "vt-123"}
    assert await adapter.handshake(ctx, WebhookRequest("GET", {}, query, b"")) == (200, b"1158201444")
    wrong = {**query, "hub.verify_token": "guess"}
    assert await adapter.handshake(ctx, WebhookRequest("GET", {}, wrong, b"")) == (403, b"Forbidden")
    assert await adapter.handshake(ctx, WebhookRequest("GET", {}, {}, b"")) is None

    payload = page.webhook(page.text(page.user(PSID), "h\u00e9llo / there"))
    assert adapter.verify(ctx, webhook(payload, page.app_secret))
    assert not adapter.verify(ctx, webhook(payload, "another-secret"))
    assert not adapter.verify(ctx, webhook(payload, page.app_secret, signature=""))
    # re-serialised JSON is other bytes: only the signature over the raw body verifies
    request = webhook(payload, page.app_secret)
    request.body = request.body.replace(b"\\/", b"/")
    assert not adapter.verify(ctx, request)


# --------------------------------------------------------------------------------------------- inbound


async def test_parse_text_quick_reply_attachment_postback(page: Page, http: httpx.AsyncClient) -> None:
    user = page.user(PSID)
    text = page.text(user, "Hello World", reply_to="m_earlier")
    tap = page.text(user, "Red", quick_reply="RED")
    photo = page.attachment(user)
    sticker = page.attachment(user, "image", sticker_id=369239263222822)
    button = page.postback(user, "Get Started", "GET_STARTED")
    link = page._message(
        user, {"attachments": [{"type": "fallback", "title": "A page", "url": "https://x.org/a"}]}
    )
    events = parse(page, http, page.webhook(text, tap, photo, sticker, button, link))
    assert [type(e) for e in events] == [InboundMessage] * 6
    first, second, image, stick, postback, shared = events
    assert (first.source_id, first.provider_message_id, first.content_type, first.text) == (
        PSID,
        text["message"]["mid"],
        "text",
        "Hello World",
    )
    assert first.attributes == {"replyTo": "m_earlier"}
    assert first.sent_at is not None and abs(first.sent_at - dt.datetime.now(dt.UTC)) < dt.timedelta(
        minutes=1
    )
    assert not first.echo
    assert (second.content_type, second.text, second.attributes["payload"]) == ("button", "Red", "RED")
    assert (
        image.content_type == "image"
        and image.attachments[0].url == photo["message"]["attachments"][0]["payload"]["url"]
    )
    assert stick.content_type == "sticker" and stick.attributes["stickerId"] == 369239263222822
    assert (postback.content_type, postback.text, postback.attributes["payload"]) == (
        "button",
        "Get Started",
        "GET_STARTED",
    )
    assert postback.provider_message_id == button["postback"]["mid"]
    assert shared.content_type == "text" and shared.attributes["shares"] == [
        {"type": "fallback", "url": "https://x.org/a", "title": "A page"}
    ]


async def test_parse_echoes_ours_dropped_others_kept(page: Page, http: httpx.AsyncClient) -> None:
    user = page.user(PSID)
    from_inbox = page.echo(user, "Sent from the Page inbox")
    ours = page.echo(user, "Sent by ChatbotX", metadata="chatbotx:123")
    by_app = page.echo(user, "Sent by our app without metadata", app_id="555")
    events = parse(page, http, page.webhook(from_inbox, ours, by_app), appId="555")
    [echo] = events
    assert isinstance(echo, InboundMessage) and echo.echo
    assert (echo.source_id, echo.text, echo.provider_message_id) == (
        PSID,
        "Sent from the Page inbox",
        from_inbox["message"]["mid"],
    )


async def test_parse_receipts_mids_and_watermarks(page: Page, http: httpx.AsyncClient) -> None:
    user = page.user(PSID)
    watermark = 1_458_668_856_253
    events = parse(
        page,
        http,
        page.webhook(
            page.delivery(user, ["m_1", "m_2"], watermark),
            page.delivery(user, None, watermark),
            page.read(user, watermark),
        ),
    )
    assert all(isinstance(e, InboundStatus) for e in events)
    at = dt.datetime.fromtimestamp(watermark / 1000, dt.UTC)
    assert [(e.provider_message_id, e.status, e.recipient_source_id, e.at) for e in events] == [
        ("m_1", "delivered", PSID, at),
        ("m_2", "delivered", PSID, at),
        (f"watermark:{PSID}:{watermark}", "delivered", PSID, at),
        (f"watermark:{PSID}:{watermark}", "read", PSID, at),
    ]
    assert meta.parse_watermark(events[-1].provider_message_id) == (PSID, at)
    assert meta.parse_watermark("m_1") is None


async def test_parse_skips_other_pages_other_objects_and_junk(page: Page, http: httpx.AsyncClient) -> None:
    user = page.user(PSID)
    payload = page.webhook(page.text(user, "for another page"))
    payload["entry"][0]["id"] = "999"
    assert parse(page, http, payload) == []
    assert parse(page, http, {**page.webhook(page.text(user, "x")), "object": "instagram"}) == []
    standby = parse(
        page, http, page.webhook(page.text(user, "while another app owns the thread"), standby=True)
    )
    assert [e.text for e in standby] == ["while another app owns the thread"]
    junk = page.webhook(
        {"sender": {"id": PSID}, "reaction": {"mid": "m_1", "action": "react", "emoji": "x"}},
        {"message": {"text": "no sender, no mid"}},
        "not an object",  # type: ignore[arg-type]
    )
    assert parse(page, http, junk) == []
    assert adapter.parse(context(page, http), WebhookRequest("POST", {}, {}, b"{not json")) == []


async def test_download_from_the_cdn_without_the_token(
    page: Page, fake: MetaGraphFake, http: httpx.AsyncClient
) -> None:
    item = page.attachment(page.user(PSID), "file", b"%PDF-1.4 invoice", "application/pdf")
    [message] = parse(page, http, page.webhook(item))
    data, mime = await adapter.download(context(page, http), message.attachments[0])
    assert (data, mime) == (b"%PDF-1.4 invoice", "application/pdf")
    [fetch] = [r for r in fake.requests if r.edge == "cdn"]
    assert fetch.token is None  # the Page token never leaves for a CDN
    with pytest.raises(ProviderError):
        await adapter.download(context(page, http), Attachment("image", url=f"{fake.base_url}/cdn/gone"))


# --------------------------------------------------------------------------------------------- outbound


def test_bodies_text_media_quick_replies_buttons() -> None:
    flavor = adapter.flavor
    assert meta.build_requests(out(text="hello, world"), flavor) == [
        {
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "hello, world", "metadata": "chatbotx:42"},
        }
    ]
    bodies = meta.build_requests(
        out(
            text="Pick a color:",
            attachments=[Attachment("image", url="https://example.com/a.jpg")],
            quick_replies=[Button("Red", "RED"), Button("Green", "GREEN")],
        ),
        flavor,
    )
    assert [b["message"] for b in bodies] == [
        {
            "attachment": {
                "type": "image",
                "payload": {"url": "https://example.com/a.jpg", "is_reusable": True},
            },
            "metadata": "chatbotx:42",
        },
        {
            "text": "Pick a color:",
            "quick_replies": [
                {"content_type": "text", "title": "Red", "payload": "RED"},
                {"content_type": "text", "title": "Green", "payload": "GREEN"},
            ],
            "metadata": "chatbotx:42",
        },
    ]
    [template] = meta.build_requests(
        out(text="Try it", buttons=[Button("Postback", "DEV_PAYLOAD"), Button("Open", url="https://x.org")]),
        flavor,
    )
    assert template["message"]["attachment"] == {
        "type": "template",
        "payload": {
            "template_type": "button",
            "text": "Try it",
            "buttons": [
                {"type": "postback", "title": "Postback", "payload": "DEV_PAYLOAD"},
                {"type": "web_url", "url": "https://x.org", "title": "Open"},
            ],
        },
    }
    [tagged] = meta.build_requests(out(text="Your order shipped", tag="POST_PURCHASE_UPDATE"), flavor)
    assert (tagged["messaging_type"], tagged["tag"]) == ("MESSAGE_TAG", "POST_PURCHASE_UPDATE")


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        (out(text="x", quick_replies=[Button(str(i), str(i)) for i in range(14)]), "quickReplies", "13"),
        (out(text="x", quick_replies=[Button("a" * 21, "A")]), "quickReplies", "20 characters"),
        (out(text="x", buttons=[Button(str(i), str(i)) for i in range(4)]), "buttons", "3 buttons"),
        (out(text="x", buttons=[Button("a" * 21, "A")]), "buttons", "20 characters"),
        (out(text="x", buttons=[Button("A", "p" * 1001)]), "buttons", "1000"),
        (out(text="x" * 641, buttons=[Button("A", "A")]), "text", "640"),
        (out(text="x" * 2001), "text", "2000"),
        (out(buttons=[Button("A", "A")]), "text", "need a text"),
        (out(text="x", tag="SHIPPING_UPDATE"), "tag", "HUMAN_AGENT"),
        (out(template=Template("hello", "en_US")), "template", "message tag"),
        (out(), "text", "nothing to send"),
    ],
)
def test_limits_refused_before_any_call(message: OutboundMessage, field: str, words: str) -> None:
    with pytest.raises(InvalidData) as refused:
        adapter.validate(message)
    assert refused.value.data == {
        "errors": [{"field": field, "message": refused.value.data["errors"][0]["message"]}]
    }
    assert words in refused.value.message
    with pytest.raises(ProviderError) as at_send:
        meta.build_requests(message, adapter.flavor)
    assert at_send.value.code == INVALID_MESSAGE


async def test_send_posts_to_the_page_with_token_and_proof(
    page: Page, fake: MetaGraphFake, http: httpx.AsyncClient
) -> None:
    result = await adapter.send(
        context(page, http), out(text="Hi!", attachments=[Attachment("file", url="https://x.org/a.pdf")])
    )
    first, second = fake.sent()
    assert result.provider_message_id == second.response["message_id"]
    assert first.path == second.path == f"/v22.0/{page.id}/messages"
    assert second.query["access_token"] == page.access_token
    assert second.query["appsecret_proof"] == meta.appsecret_proof(page.app_secret, page.access_token)
    assert second.json == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "Hi!", "metadata": "chatbotx:42"},
    }
    assert first.json["message"]["attachment"]["type"] == "file"
    await adapter.sender_action(context(page, http), PSID, "typing_on")
    assert page.actions == [{"recipient": {"id": PSID}, "sender_action": "typing_on"}]
    with pytest.raises(ProviderError):
        await adapter.sender_action(context(page, http), PSID, "dancing")


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        ("outside_window", OUTSIDE_WINDOW, False),
        ("unavailable_user", BLOCKED_BY_USER, False),
        ("no_user", INVALID_RECIPIENT, False),
        ("invalid", INVALID_MESSAGE, False),
        (190, TOKEN_INVALID, False),
        ("page_limit", RATE_LIMITED, True),
        ("app_limit", RATE_LIMITED, True),
        ("throttled", RATE_LIMITED, True),
        ("transient", PROVIDER_UNAVAILABLE, True),
        ("server_error", PROVIDER_UNAVAILABLE, True),
    ],
)
async def test_errors_map_to_our_codes(
    page: Page, fake: MetaGraphFake, http: httpx.AsyncClient, error: Any, code: str, retryable: bool
) -> None:
    from tests.fakes.meta import ERRORS, MESSENGER_ERRORS

    fake.fail_next(1, MESSENGER_ERRORS.get(error) or ERRORS[error])
    with pytest.raises(ProviderError) as failed:
        await adapter.send(context(page, http), out(text="hello"))
    assert (failed.value.code, failed.value.retryable) == (code, retryable)
    if code == RATE_LIMITED:
        assert failed.value.retry_after and failed.value.retry_after > 0


async def test_the_fake_enforces_what_meta_does(page: Page, http: httpx.AsyncClient) -> None:
    """Windows and unknown users as Meta answers them (what the policy spares us from meeting)."""
    page.enforce_window = True
    with pytest.raises(ProviderError) as outside:
        await adapter.send(context(page, http), out(text="late"))
    assert outside.value.code == OUTSIDE_WINDOW
    await adapter.send(context(page, http), out(text="update", tag="ACCOUNT_UPDATE"))
    page.users[PSID].last_inbound = dt.datetime.now().timestamp() - 3 * 24 * 3600
    await adapter.send(context(page, http), out(text="a person answers", tag="HUMAN_AGENT"))
    with pytest.raises(ProviderError) as unknown:
        await adapter.send(context(page, http), OutboundMessage(1, "1234", text="who?"))
    assert unknown.value.code == INVALID_RECIPIENT


# --------------------------------------------------------------------------------------------- connect


async def test_connect_checks_the_token_and_subscribes(
    page: Page, fake: MetaGraphFake, http: httpx.AsyncClient
) -> None:
    assert await adapter.connect(context(page, http)) == {"pageName": "ChatbotX Shop"}
    check, subscribe = fake.requests
    assert (check.method, check.path, check.query["fields"]) == ("GET", f"/v22.0/{page.id}", "id,name")
    assert (subscribe.method, subscribe.path) == ("POST", f"/v22.0/{page.id}/subscribed_apps")
    assert page.subscribed_fields == list(SUBSCRIBED_FIELDS)


async def test_connect_refusals(page: Page, fake: MetaGraphFake, http: httpx.AsyncClient) -> None:
    with pytest.raises(ProviderError) as wrong:
        await adapter.connect(context(page, http, pageAccessToken="EAAPwrong"))
    assert wrong.value.code == TOKEN_INVALID and "Invalid OAuth access token" in wrong.value.message
    page.expire_token()
    with pytest.raises(ProviderError) as expired:
        await adapter.connect(context(page, http))
    assert expired.value.code == TOKEN_INVALID
    for config, field in (
        ({"pageAccessToken": None}, "config.pageAccessToken"),
        ({"appSecret": None}, "config.appSecret"),
        ({"pageId": "my-page"}, "config.pageId"),
        ({"apiVersion": "latest"}, "config.apiVersion"),
        ({"messagesPerSecond": 0}, "config.messagesPerSecond"),
    ):
        with pytest.raises(InvalidData) as invalid:
            await adapter.connect(context(page, http, **config))
        assert invalid.value.data == {
            "errors": [{"field": field, "message": invalid.value.data["errors"][0]["message"]}]
        }
    other = fake.add_page(app_secret=page.app_secret)  # the same app on another Page
    with pytest.raises(InvalidData) as unknown_page:  # a token of another Page is refused for this one
        await adapter.connect(context(page, http, pageId="123456", pageAccessToken=other.access_token))
    assert unknown_page.value.data["errors"][0]["field"] == "config.pageId"
