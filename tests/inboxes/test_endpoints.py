from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chatbotx.inboxes import service
from chatbotx.kit import db
from chatbotx.models import Inbox
from tests.conftest import Tenant

URL = "/api/v1/channels"
BOT_TOKEN = "123456:AAE-super-secret-bot-token"
APP_SECRET = "app-secret-0123456789"


async def _create(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Support bot")
    # A channel without an adapter: these tests are about storing config; connecting is in test_connect.py.
    body.setdefault("channel", "zalo")
    response = await api.post(URL, json=body)
    assert response.status_code == 201, response.text
    assert BOT_TOKEN not in response.text and APP_SECRET not in response.text
    return dict(response.json())


async def _row(channel_id: str) -> Inbox:
    async with db.get_database().sessionmaker() as session:
        inbox = await session.scalar(select(Inbox).where(Inbox.id == int(channel_id)))
    assert inbox is not None
    return inbox


async def test_create_splits_and_encrypts_secrets(api: httpx.AsyncClient) -> None:
    channel = await _create(
        api, config={"botToken": BOT_TOKEN, "allowGroups": True, "greeting": {"text": "hi"}}, sourceId="bot42"
    )
    assert set(channel) == {
        "id",
        "createdAt",
        "updatedAt",
        "name",
        "channel",
        "sourceId",
        "workspaceId",
        "status",
        "statusReason",
        "config",
        "secretKeys",
        "webhookUrl",
        "verifyToken",
        "inboxIdentifier",
        "embedScript",
        "hmacToken",
    }
    assert channel["config"] == {"allowGroups": True, "greeting": {"text": "hi"}}
    assert channel["secretKeys"] == ["botToken"]
    assert channel["status"] == "active" and channel["sourceId"] == "bot42"
    assert channel["webhookUrl"].endswith(f"/webhooks/zalo/{channel['id']}")
    assert channel["verifyToken"] is None and channel["statusReason"] is None
    assert (
        channel["inboxIdentifier"] is None and channel["embedScript"] is None and channel["hmacToken"] is None
    )

    row = await _row(channel["id"])
    assert row.credentials is not None and BOT_TOKEN not in row.credentials
    assert "botToken" not in row.config
    assert service.credentials_of(row) == {"botToken": BOT_TOKEN}


async def test_secrets_are_never_returned(api: httpx.AsyncClient) -> None:
    config = {"accessToken": BOT_TOKEN, "appSecret": APP_SECRET, "smtp_password": "pw-123456", "phone": "+1"}
    channel = await _create(api, channel="tiktok", config=config)
    assert channel["secretKeys"] == ["accessToken", "appSecret", "smtp_password"]
    for response in (
        await api.get(URL),
        await api.get(f"{URL}/{channel['id']}"),
        await api.put(f"{URL}/{channel['id']}", json={"name": "Renamed"}),
    ):
        assert response.status_code == 200
        for secret in (BOT_TOKEN, APP_SECRET, "pw-123456"):
            assert secret not in response.text


async def test_update_config_is_a_patch(api: httpx.AsyncClient) -> None:
    channel = await _create(api, config={"botToken": BOT_TOKEN, "webhookSecret": APP_SECRET, "lang": "en"})
    patched = await api.put(
        f"{URL}/{channel['id']}",
        json={
            "config": {"botToken": "999:new-token", "webhookSecret": None, "lang": None, "mode": "polling"}
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["config"] == {"mode": "polling"} and body["secretKeys"] == ["botToken"]
    assert service.credentials_of(await _row(channel["id"])) == {"botToken": "999:new-token"}

    # Changes that do not name secrets keep them.
    kept = await api.put(
        f"{URL}/{channel['id']}", json={"name": "New", "status": "disabled", "sourceId": None}
    )
    assert (kept.json()["name"], kept.json()["status"], kept.json()["sourceId"]) == ("New", "disabled", None)
    assert kept.json()["secretKeys"] == ["botToken"]
    assert service.credentials_of(await _row(channel["id"])) == {"botToken": "999:new-token"}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "channel": "fax"},
        {"name": "", "channel": "telegram"},
        {"name": "x", "channel": "telegram", "config": {"botToken": 12345}},
        {"name": "x", "channel": "telegram", "config": {"botToken": ""}},
        {"name": "x", "channel": "smtp", "config": {"smtp": {"password": "pw"}}},
        {"name": "x", "channel": "smtp", "config": {"servers": [{"apiKey": "k"}]}},
        {"name": "x", "channel": "telegram", "config": "botToken"},
        {"name": "x", "channel": "telegram", "credentials": {}},
    ],
)
async def test_bad_input_is_422(api: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await api.post(URL, json=body)
    assert response.status_code == 422, response.text
    assert "pw" not in response.json()["message"]
    assert (await api.get(URL)).json()["data"] == []


async def test_bad_update_is_422_and_writes_nothing(api: httpx.AsyncClient) -> None:
    channel = await _create(api, config={"botToken": BOT_TOKEN})
    assert (await api.put(f"{URL}/{channel['id']}", json={"status": "broken"})).status_code == 422
    assert (await api.put(f"{URL}/{channel['id']}", json={"channel": "tiktok"})).status_code == 422
    nested = await api.put(f"{URL}/{channel['id']}", json={"config": {"a": 1, "x": {"clientSecret": "s"}}})
    assert nested.status_code == 422
    assert nested.json()["data"]["errors"][0]["field"] == "config.x.clientSecret"
    assert (await api.get(f"{URL}/{channel['id']}")).json()["config"] == {}


async def test_list_paging_and_filter(api: httpx.AsyncClient) -> None:
    for index in range(3):
        await _create(api, name=f"tg{index}", channel="zalo")
    await _create(api, name="web", channel="webchat", config={"websiteUrl": "https://example.com"})
    page = (await api.get(URL, params={"perPage": 2, "page": 2, "includes": "inbox"})).json()
    assert page["pageCount"] == 2 and [c["name"] for c in page["data"]] == ["tg2", "web"]
    only_web = (await api.get(URL, params={"channel": "webchat"})).json()
    assert [c["name"] for c in only_web["data"]] == ["web"]
    assert (await api.get(URL, params={"channel": "fax"})).status_code == 422


async def test_delete(api: httpx.AsyncClient) -> None:
    channel = await _create(api)
    assert (await api.delete(f"{URL}/{channel['id']}")).status_code == 204
    assert (await api.get(f"{URL}/{channel['id']}")).status_code == 404
    assert (await api.delete(f"{URL}/{channel['id']}")).status_code == 404


async def test_other_workspace_is_404(api: httpx.AsyncClient, other_tenant: Tenant) -> None:
    channel = await _create(api, config={"botToken": BOT_TOKEN})
    other = other_tenant.client
    assert (await other.get(f"{URL}/{channel['id']}")).status_code == 404
    assert (await other.put(f"{URL}/{channel['id']}", json={"name": "x"})).status_code == 404
    assert (await other.delete(f"{URL}/{channel['id']}")).status_code == 404
    assert (await other.get(URL)).json() == {"data": [], "pageCount": 0}
    assert (await api.get(f"{URL}/abc")).status_code == 404
    assert (await api.get(f"{URL}/{channel['id']}")).json()["name"] == "Support bot"


async def test_a_webchat_inbox_without_public_identifier_gets_one_on_update(api: httpx.AsyncClient) -> None:
    created = await _create(api, name="web", channel="webchat", config={"websiteUrl": "https://example.com"})
    async with db.get_database().sessionmaker() as session:  # as made before webchat had a public API
        row = await session.get_one(Inbox, int(created["id"]))
        row.public_token, row.credentials = None, None
        await db.commit(session)
    assert (await api.get(f"{URL}/{created['id']}")).json()["inboxIdentifier"] is None

    response = await api.put(f"{URL}/{created['id']}", json={"name": "Website"})
    assert response.status_code == 200, response.text
    fixed = response.json()
    assert fixed["inboxIdentifier"] and fixed["inboxIdentifier"] != created["inboxIdentifier"]
    assert {"hmacToken", "identitySecret"} <= set(fixed["secretKeys"]) and fixed["hmacToken"]
    widget = await api.get(f"/public/api/v1/inboxes/{fixed['inboxIdentifier']}")
    assert widget.status_code == 200 and widget.json()["name"] == "Website"

    # As migration 0006 leaves one: an identifier, no secrets yet. The next update adds them, keeps the rest.
    async with db.get_database().sessionmaker() as session:
        (await session.get_one(Inbox, int(created["id"]))).credentials = None
        await db.commit(session)
    again = (await api.put(f"{URL}/{created['id']}", json={"name": "Web"})).json()
    assert again["inboxIdentifier"] == fixed["inboxIdentifier"]
    assert {"hmacToken", "identitySecret"} <= set(again["secretKeys"]) and again["hmacToken"]
