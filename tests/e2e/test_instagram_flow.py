"""Instagram end to end through the real app and two fakes (graph.facebook.com and graph.instagram.com):
connect through Instagram Login and through a Page, signed webhooks in through /webhooks/instagram/{inboxId}
(story mentions and replies, read receipts, unsends), replies at the right API in the exact format, the
window and HUMAN_AGENT, forged signatures and duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chatbotx.inbound import worker
from chatbotx.models import Conversation, InboundEvent, Message
from chatbotx.settings import get_settings
from tests.conftest import Tenant
from tests.e2e.helpers import count, identity, messages, sent_out
from tests.e2e.test_messenger_flow import Channel, check_windows, first_contact, receive, reply
from tests.fakes.meta import InstagramAccount, MetaGraphFake, serve_fake_meta

IGSID = "6311000000000001"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[MetaGraphFake, MetaGraphFake]]:
    with serve_fake_meta() as facebook, serve_fake_meta() as instagram:
        yield facebook, instagram


@pytest.fixture
def fakes(
    servers: tuple[MetaGraphFake, MetaGraphFake], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[MetaGraphFake, MetaGraphFake]]:
    facebook, instagram = servers
    facebook.reset()
    instagram.reset()
    monkeypatch.setenv("CHATBOTX_META_GRAPH_API_BASE", facebook.base_url)
    monkeypatch.setenv("CHATBOTX_INSTAGRAM_API_BASE", instagram.base_url)
    get_settings.cache_clear()
    yield facebook, instagram
    get_settings.cache_clear()


@pytest.fixture
def fake(fakes: tuple[MetaGraphFake, MetaGraphFake]) -> MetaGraphFake:
    """graph.instagram.com (Instagram Login), where these channels send."""
    return fakes[1]


async def create(tenant: Tenant, config: dict[str, Any]) -> dict[str, Any]:
    answer = await tenant.client.post(
        "/api/v1/channels", json={"name": "Instagram", "channel": "instagram", "config": config}
    )
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()
    assert data["webhookUrl"].endswith(f"/webhooks/instagram/{data['id']}")
    return data


async def connect(tenant: Tenant, fake: MetaGraphFake) -> Channel:
    """Instagram Login: the account's user token and the app secret (no Page)."""
    account = fake.add_instagram_account(app_secret="ig-e2e-secret")
    data = await create(tenant, {"accessToken": account.access_token, "appSecret": account.app_secret})
    assert data["config"]["instagramUserId"] == account.id
    assert data["config"]["username"] == "chatbotx.shop"
    assert sorted(data["secretKeys"]) == ["accessToken", "appSecret"]
    return Channel(data, account, "instagram")


async def test_connect_with_instagram_login_and_through_a_page(
    tenant: Tenant, anon: httpx.AsyncClient, fakes: tuple[MetaGraphFake, MetaGraphFake]
) -> None:
    facebook, instagram = fakes
    channel = await connect(tenant, instagram)
    assert [r.path for r in instagram.requests] == ["/v22.0/me", "/v22.0/me/subscribed_apps"]
    assert facebook.requests == []
    verify_token = channel.data["verifyToken"]
    ok = await instagram.verify_subscription(channel.path, verify_token, challenge="42", client=anon)
    assert (ok.status_code, ok.text) == (200, "42")

    page = facebook.add_page(app_secret="page-secret", instagram=True)
    assert page.instagram is not None
    data = await create(
        tenant, {"pageId": page.id, "pageAccessToken": page.access_token, "appSecret": page.app_secret}
    )
    assert (data["config"]["instagramUserId"], data["config"]["connectedVia"]) == (page.instagram.id, "page")

    wrong = await tenant.client.post(
        "/api/v1/channels",
        json={"name": "x", "channel": "instagram", "config": {"accessToken": "IGAAwrong", "appSecret": "s"}},
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "CHANNEL_CONNECT_FAILED", wrong.text


async def test_inbound_story_mention_reply_and_unsend(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    account: InstagramAccount = channel.node  # type: ignore[assignment]
    user = account.user(IGSID)
    hello = account.text(user, "hello")
    payload = account.webhook(
        account.story_mention(user, b"\xff\xd8 my story"),
        account.story_reply(user, "Love this!", "17890000000000042"),
        hello,
        account.unsend(user, hello["message"]["mid"]),
    )
    await receive(fake, channel, anon, payload)
    contact_id = (await identity(channel.id, IGSID)).contact_id
    story, answer, text = await messages(tenant, contact_id)  # the unsend stores nothing
    assert story["contentType"] == "image" and "storyMention" in story["contentAttributes"]
    content = await tenant.client.get(f"/api/v1/files/{story['attachments'][0]['fileId']}/content")
    assert content.content == b"\xff\xd8 my story"
    assert (answer["content"], answer["contentAttributes"]["storyReply"]["id"]) == (
        "Love this!",
        "17890000000000042",
    )
    assert text["content"] == "hello"
    # standby (another app owns the thread) is stored like messaging
    await receive(fake, channel, anon, account.webhook(account.text(user, "in standby"), standby=True))
    assert (await messages(tenant, contact_id))[-1]["content"] == "in standby"


async def test_forged_signature_and_duplicates(
    tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake
) -> None:
    channel = await connect(tenant, fake)
    payload = channel.node.webhook(channel.node.text(channel.node.user(IGSID), "once"))
    forged = MetaGraphFake.sign(MetaGraphFake.encode(payload), "not-the-app-secret")
    answer = await fake.deliver(channel.path, payload, signature=forged, client=anon)
    assert answer.status_code == 403
    await worker.drain(int(channel.id))
    assert await count(InboundEvent, channel.id) == 0
    await receive(fake, channel, anon, payload)
    await receive(fake, channel, anon, payload)
    assert await count(Message, channel.id) == 1
    assert await count(Conversation, channel.id) == 1


async def test_reply_at_the_instagram_api_and_read_receipt(
    tenant: Tenant, anon: httpx.AsyncClient, fakes: tuple[MetaGraphFake, MetaGraphFake]
) -> None:
    facebook, fake = fakes
    channel = await connect(tenant, fake)
    account: InstagramAccount = channel.node  # type: ignore[assignment]
    contact_id, conversation_id = await first_contact(anon, fake, channel, IGSID)
    answer = await reply(
        tenant,
        conversation_id,
        text="Which size?",
        buttons=[{"title": "S", "payload": "S"}, {"title": "M", "payload": "M"}],
    )
    assert answer.status_code == 201, answer.text
    await sent_out(channel.id)
    [sent] = fake.sent()
    assert facebook.requests == []
    assert sent.path == f"/v22.0/{account.id}/messages" and sent.token == account.access_token
    assert sent.json == {
        "recipient": {"id": IGSID},
        "messaging_type": "RESPONSE",
        "message": {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "button",
                    "text": "Which size?",
                    "buttons": [
                        {"type": "postback", "title": "S", "payload": "S"},
                        {"type": "postback", "title": "M", "payload": "M"},
                    ],
                },
            }
        },
    }
    mid = sent.response["message_id"]
    # Instagram sends carry no metadata: the echo of our send is known by its id and not stored again
    await receive(fake, channel, anon, account.webhook(account.echo_of(mid)))
    assert await count(Message, channel.id) == 2
    await receive(fake, channel, anon, account.webhook(account.seen(account.user(IGSID), mid)))
    assert (await messages(tenant, contact_id))[-1]["status"] == "read"
    # Instagram counts text in its own, lower limit: refused before queueing
    long = await reply(tenant, conversation_id, text="x" * 1001)
    assert long.status_code == 422 and "1000" in long.text


async def test_windows_and_human_agent(tenant: Tenant, anon: httpx.AsyncClient, fake: MetaGraphFake) -> None:
    channel = await connect(tenant, fake)
    await check_windows(tenant, anon, fake, channel, IGSID)
