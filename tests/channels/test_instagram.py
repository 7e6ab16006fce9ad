"""The Instagram adapter against the fake Graph API: through a Page (graph.facebook.com) and through
Instagram Login (CHATBOTX_INSTAGRAM_API_BASE, a second fake server), Instagram's own webhook events."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from chatbotx.channels import meta, registry
from chatbotx.channels.base import (
    OUTSIDE_WINDOW,
    TOKEN_INVALID,
    Attachment,
    Button,
    ChannelContext,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    ProviderError,
    WebhookRequest,
)
from chatbotx.channels.instagram import LOGIN_FIELDS, PAGE_FIELDS, InstagramAdapter
from chatbotx.kit.errors import InvalidData
from chatbotx.settings import get_settings
from tests.fakes.meta import MESSENGER_ERRORS, InstagramAccount, MetaGraphFake, Page, serve_fake_meta

adapter = InstagramAdapter()
IGSID = "6311000000000001"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[MetaGraphFake, MetaGraphFake]]:
    """graph.facebook.com and graph.instagram.com: two fakes, so each call's host is checked."""
    with serve_fake_meta() as facebook, serve_fake_meta() as instagram:
        yield facebook, instagram


@pytest.fixture
def facebook(servers: tuple[MetaGraphFake, MetaGraphFake], monkeypatch: pytest.MonkeyPatch) -> MetaGraphFake:
    facebook, instagram = servers
    facebook.reset()
    instagram.reset()
    monkeypatch.setattr(get_settings(), "meta_graph_api_base", facebook.base_url)
    monkeypatch.setattr(get_settings(), "instagram_api_base", instagram.base_url)
    return facebook


@pytest.fixture
def instagram(servers: tuple[MetaGraphFake, MetaGraphFake], facebook: MetaGraphFake) -> MetaGraphFake:
    return servers[1]


@pytest.fixture
def page(facebook: MetaGraphFake) -> Page:
    page = facebook.add_page(app_secret="page-app-secret", instagram=True)
    assert page.instagram is not None
    page.instagram.user(IGSID).last_inbound = 0.0
    return page


@pytest.fixture
def account(instagram: MetaGraphFake) -> InstagramAccount:
    account = instagram.add_instagram_account(app_secret="ig-app-secret")
    account.user(IGSID).last_inbound = 0.0
    return account


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def page_context(page: Page, http: httpx.AsyncClient, **config: Any) -> ChannelContext:
    assert page.instagram is not None
    return ChannelContext(
        7,
        1,
        {"pageId": page.id, "instagramUserId": page.instagram.id, **config},
        {"pageAccessToken": page.access_token, "appSecret": page.app_secret},
        http,
        "http://chatbotx.test",
    )


def login_context(account: InstagramAccount, http: httpx.AsyncClient, **config: Any) -> ChannelContext:
    credentials = {"accessToken": account.access_token, "appSecret": account.app_secret}
    for key in list(config):
        if key in credentials:
            credentials[key] = config.pop(key)
    return ChannelContext(
        7,
        1,
        {"instagramUserId": account.id, **config},
        {k: v for k, v in credentials.items() if v},
        http,
        "http://chatbotx.test",
    )


def webhook(payload: dict[str, Any], secret: str) -> WebhookRequest:
    body = MetaGraphFake.encode(payload)
    return WebhookRequest("POST", {"x-hub-signature-256": meta.signature_of(secret, body)}, {}, body)


def test_registered() -> None:
    assert isinstance(registry.get("instagram"), InstagramAdapter)
    assert InstagramAdapter.window == dt.timedelta(hours=24)
    assert adapter.rate_plan({}).per_second == 300


# --------------------------------------------------------------------------------------------- connect


async def test_connect_through_the_page(page: Page, facebook: MetaGraphFake, http: httpx.AsyncClient) -> None:
    assert page.instagram is not None
    ctx = page_context(page, http)
    ctx.config.pop("instagramUserId")
    connected = await adapter.connect(ctx)
    assert connected == {
        "instagramUserId": page.instagram.id,
        "pageName": "ChatbotX Shop",
        "connectedVia": "page",
    }
    check, subscribe = facebook.requests
    assert (check.path, check.query["fields"]) == (f"/v22.0/{page.id}", "id,name,instagram_business_account")
    assert subscribe.path == f"/v22.0/{page.id}/subscribed_apps"
    assert page.subscribed_fields == list(PAGE_FIELDS)
    lonely = facebook.add_page()  # no Instagram account linked
    with pytest.raises(InvalidData) as refused:
        await adapter.connect(
            ChannelContext(
                7,
                1,
                {"pageId": lonely.id},
                {"pageAccessToken": lonely.access_token, "appSecret": lonely.app_secret},
                http,
                "",
            )
        )
    assert "no Instagram professional account" in refused.value.message
    with pytest.raises(InvalidData) as wrong_secret:  # appsecret_proof made with another app's secret
        await adapter.connect(
            ChannelContext(
                7,
                1,
                {"pageId": page.id},
                {"pageAccessToken": page.access_token, "appSecret": "another-app"},
                http,
                "",
            )
        )
    assert wrong_secret.value.data["errors"][0]["field"] == "config.appSecret"
    with pytest.raises(InvalidData) as mismatch:
        await adapter.connect(page_context(page, http, instagramUserId="17841400000000999"))
    assert mismatch.value.data["errors"][0]["field"] == "config.instagramUserId"


async def test_connect_with_instagram_login(
    account: InstagramAccount, facebook: MetaGraphFake, instagram: MetaGraphFake, http: httpx.AsyncClient
) -> None:
    ctx = login_context(account, http)
    ctx.config.pop("instagramUserId")
    connected = await adapter.connect(ctx)
    assert connected == {
        "instagramUserId": account.id,
        "username": "chatbotx.shop",
        "connectedVia": "instagramLogin",
    }
    assert facebook.requests == []  # graph.facebook.com is not involved
    me, subscribe = instagram.requests
    assert (me.method, me.path, me.query["fields"]) == ("GET", "/v22.0/me", "user_id,username")
    assert "appsecret_proof" not in me.query and me.token == account.access_token
    assert (subscribe.method, subscribe.path) == ("POST", "/v22.0/me/subscribed_apps")
    assert account.subscribed_fields == list(LOGIN_FIELDS)
    with pytest.raises(ProviderError) as wrong:
        await adapter.connect(login_context(account, http, accessToken="IGAAwrong"))
    assert wrong.value.code == TOKEN_INVALID
    with pytest.raises(InvalidData) as missing:
        await adapter.connect(login_context(account, http, accessToken=None))
    assert missing.value.data["errors"][0]["field"] == "config.accessToken"


# --------------------------------------------------------------------------------------------- inbound


async def test_parse_instagram_events(account: InstagramAccount, http: httpx.AsyncClient) -> None:
    user = account.user(IGSID)
    mention = account.story_mention(user, b"\xff\xd8 my story")
    story_reply = account.story_reply(user, "Love this!", "17890000000000042")
    text = account.text(user, "hello")
    unsent = account.unsend(user, text["message"]["mid"])
    seen = account.seen(user, "m_ours")
    echo = account.echo(user, "Replied from the Instagram app", app_id=None)
    payload = account.webhook(mention, story_reply, text, unsent, seen, echo)
    ctx = login_context(account, http)
    events = adapter.parse(ctx, webhook(payload, account.app_secret))
    story, answer, hello, receipt, echoed = events
    assert isinstance(story, InboundMessage) and story.content_type == "image"
    assert story.attributes["storyMention"]["url"] == story.attachments[0].url
    data, mime = await adapter.download(ctx, story.attachments[0])
    assert (data, mime) == (b"\xff\xd8 my story", "image/jpeg")
    assert isinstance(answer, InboundMessage) and answer.text == "Love this!"
    assert answer.attributes["storyReply"]["id"] == "17890000000000042"
    assert isinstance(hello, InboundMessage) and hello.text == "hello"  # its unsend is skipped
    assert isinstance(receipt, InboundStatus)
    assert (receipt.provider_message_id, receipt.status, receipt.recipient_source_id) == (
        "m_ours",
        "read",
        IGSID,
    )
    assert isinstance(echoed, InboundMessage) and echoed.echo and echoed.source_id == IGSID
    # another account's entries (and Messenger's "page" object) are not this inbox's
    other = account.webhook(account.text(user, "elsewhere"))
    other["entry"][0]["id"] = "17841400000000999"
    assert adapter.parse(ctx, webhook(other, account.app_secret)) == []
    assert adapter.parse(ctx, webhook({**payload, "object": "page"}, account.app_secret)) == []


# --------------------------------------------------------------------------------------------- outbound


async def test_send_through_the_page(page: Page, facebook: MetaGraphFake, http: httpx.AsyncClient) -> None:
    message = OutboundMessage(
        5,
        IGSID,
        text="Pick one",
        attachments=[Attachment("image", url="https://x.org/a.jpg")],
        quick_replies=[Button("Red", "RED")],
    )
    result = await adapter.send(page_context(page, http), message)
    image, text = facebook.sent()
    assert image.path == text.path == f"/v22.0/{page.id}/messages"
    assert text.query["appsecret_proof"] == meta.appsecret_proof(page.app_secret, page.access_token)
    # Instagram: no metadata, no is_reusable
    assert image.json == {
        "recipient": {"id": IGSID},
        "messaging_type": "RESPONSE",
        "message": {"attachment": {"type": "image", "payload": {"url": "https://x.org/a.jpg"}}},
    }
    assert text.json["message"] == {
        "text": "Pick one",
        "quick_replies": [{"content_type": "text", "title": "Red", "payload": "RED"}],
    }
    assert result.provider_message_id == text.response["message_id"]


async def test_send_with_instagram_login(
    account: InstagramAccount, facebook: MetaGraphFake, instagram: MetaGraphFake, http: httpx.AsyncClient
) -> None:
    ctx = login_context(account, http)
    await adapter.send(ctx, OutboundMessage(5, IGSID, text="Hi", tag="HUMAN_AGENT"))
    await adapter.sender_action(ctx, IGSID, "mark_seen")
    sent, action = instagram.sent()
    assert facebook.requests == []
    assert sent.path == f"/v22.0/{account.id}/messages" and sent.token == account.access_token
    assert sent.json == {
        "recipient": {"id": IGSID},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "Hi"},
    }
    assert action.json == {"recipient": {"id": IGSID}, "sender_action": "mark_seen"}
    with pytest.raises(InvalidData) as long_text:
        adapter.validate(OutboundMessage(5, IGSID, text="x" * 1001))
    assert "1000" in long_text.value.message
    instagram.fail_next(1, MESSENGER_ERRORS["outside_window"])
    with pytest.raises(ProviderError) as outside:
        await adapter.send(ctx, OutboundMessage(5, IGSID, text="late"))
    assert outside.value.code == OUTSIDE_WINDOW
