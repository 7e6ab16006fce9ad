"""Connecting channels on create/update through their adapters, against the fake Telegram and Meta APIs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from chatbotx.inboxes import service
from chatbotx.kit import db
from chatbotx.models import Inbox
from chatbotx.settings import get_settings
from tests.conftest import Tenant
from tests.fakes.meta import MetaGraphFake, serve_fake_meta
from tests.fakes.telegram import FakeTelegram, serve_fake_telegram

URL = "/api/v1/channels"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeTelegram, MetaGraphFake]]:
    with serve_fake_telegram() as telegram, serve_fake_meta() as meta:
        yield telegram, meta


@pytest.fixture
def fakes(
    servers: tuple[FakeTelegram, MetaGraphFake], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeTelegram, MetaGraphFake]]:
    telegram, meta = servers
    telegram.reset()
    meta.reset()
    monkeypatch.setenv("CHATBOTX_TELEGRAM_API_BASE", telegram.base_url)
    monkeypatch.setenv("CHATBOTX_META_GRAPH_API_BASE", meta.base_url)
    get_settings.cache_clear()
    yield telegram, meta
    get_settings.cache_clear()


async def count_inboxes(workspace_id: str) -> int:
    async with db.get_database().sessionmaker() as session:
        return int(
            await session.scalar(select(func.count()).where(Inbox.workspace_id == int(workspace_id))) or 0
        )


async def test_telegram_connects_on_create(tenant: Tenant, fakes: tuple[FakeTelegram, MetaGraphFake]) -> None:
    telegram, _ = fakes
    bot = telegram.add_bot(username="shop_bot")
    answer = await tenant.client.post(
        URL, json={"name": "Shop", "channel": "telegram", "config": {"botToken": bot.token}}
    )
    assert answer.status_code == 201, answer.text
    channel = answer.json()
    assert channel["config"]["botUsername"] == "shop_bot" and channel["status"] == "active"
    assert channel["secretKeys"] == ["botToken", "webhookSecret"]
    assert channel["verifyToken"] is None  # not a Meta channel
    # The webhook Telegram will call is ours, for this very inbox, with the stored secret.
    assert bot.webhook["url"] == channel["webhookUrl"]
    async with db.get_database().sessionmaker() as session:
        row = await session.get(Inbox, int(channel["id"]))
        assert row is not None
        assert bot.webhook["secret_token"] == service.credentials_of(row)["webhookSecret"]


async def test_a_wrong_token_is_a_clear_400_and_stores_nothing(
    tenant: Tenant, fakes: tuple[FakeTelegram, MetaGraphFake]
) -> None:
    answer = await tenant.client.post(
        URL, json={"name": "Shop", "channel": "telegram", "config": {"botToken": "123:not-a-bot"}}
    )
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == "CHANNEL_CONNECT_FAILED" and body["data"]["reason"] == "TOKEN_INVALID"
    assert body["message"].startswith(
        "Could not connect the Telegram channel: Telegram refused the bot token"
    )
    assert await count_inboxes(tenant.workspace_id) == 0


async def test_an_unreachable_provider_is_reported_at_connect(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATBOTX_TELEGRAM_API_BASE", "http://127.0.0.1:9")  # nothing listens there
    get_settings.cache_clear()
    try:
        answer = await tenant.client.post(
            URL, json={"name": "Shop", "channel": "telegram", "config": {"botToken": "1:x"}}
        )
    finally:
        get_settings.cache_clear()
    assert answer.status_code == 400 and answer.json()["code"] == "CHANNEL_CONNECT_FAILED", answer.text
    assert await count_inboxes(tenant.workspace_id) == 0


async def test_updating_the_token_reconnects_and_fixes_a_channel_that_needs_attention(
    tenant: Tenant, fakes: tuple[FakeTelegram, MetaGraphFake]
) -> None:
    telegram, _ = fakes
    old, new = telegram.add_bot(username="old_bot"), telegram.add_bot(username="new_bot")
    channel = (
        await tenant.client.post(
            URL, json={"name": "S", "channel": "telegram", "config": {"botToken": old.token}}
        )
    ).json()
    async with db.get_database().sessionmaker() as session:
        row = await session.get(Inbox, int(channel["id"]))
        assert row is not None
        row.status, row.status_reason = "needs_attention", "Telegram rejected the channel's credentials"
        await db.commit(session)

    wrong = await tenant.client.put(f"{URL}/{channel['id']}", json={"config": {"botToken": "9:wrong"}})
    assert wrong.status_code == 400 and wrong.json()["code"] == "CHANNEL_CONNECT_FAILED"
    kept = (await tenant.client.get(f"{URL}/{channel['id']}")).json()
    assert (kept["config"]["botUsername"], kept["status"]) == ("old_bot", "needs_attention")

    fixed = await tenant.client.put(f"{URL}/{channel['id']}", json={"config": {"botToken": new.token}})
    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert (body["config"]["botUsername"], body["status"], body["statusReason"]) == (
        "new_bot",
        "active",
        None,
    )
    assert new.webhook["url"] == channel["webhookUrl"]

    # A rename does not call the provider.
    before = len(telegram.requests)
    assert (await tenant.client.put(f"{URL}/{channel['id']}", json={"name": "Renamed"})).status_code == 200
    assert len(telegram.requests) == before


async def test_whatsapp_gets_a_verify_token_to_show(
    tenant: Tenant, fakes: tuple[FakeTelegram, MetaGraphFake], anon: httpx.AsyncClient
) -> None:
    _, meta = fakes
    number = meta.add_whatsapp_number()
    config = {"phoneNumberId": number.id, "accessToken": number.access_token, "appSecret": number.app_secret}
    answer = await tenant.client.post(URL, json={"name": "WA", "channel": "whatsapp", "config": config})
    assert answer.status_code == 201, answer.text
    channel = answer.json()
    token = channel["verifyToken"]
    assert isinstance(token, str) and len(token) >= 24
    assert channel["config"]["verifyToken"] == token and "verifyToken" not in channel["secretKeys"]
    assert channel["config"]["phoneNumber"] == "+15550783881"
    # Meta's handshake succeeds with the token we showed.
    path = channel["webhookUrl"].split("://", 1)[1].split("/", 1)[1]
    params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
    handshake = await anon.get(f"/{path}", params=params)
    assert handshake.status_code == 200 and handshake.text == "1158201444"

    given = {**config, "verifyToken": "my-own-verify-token"}
    mine = await tenant.client.post(URL, json={"name": "WA2", "channel": "whatsapp", "config": given})
    assert mine.status_code == 201 and mine.json()["verifyToken"] == "my-own-verify-token"

    bad = {**config, "accessToken": "EAAG-expired"}
    refused = await tenant.client.post(URL, json={"name": "WA3", "channel": "whatsapp", "config": bad})
    assert refused.status_code == 400 and refused.json()["data"]["reason"] == "TOKEN_INVALID", refused.text
    assert await count_inboxes(tenant.workspace_id) == 2
