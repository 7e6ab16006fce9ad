"""The pipeline through the real adapters: WhatsApp Cloud API and Telegram webhooks, stored and processed."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from chatbotx.inboxes import secrets
from chatbotx.kit import db
from chatbotx.models import ContactInbox, Inbox, Message
from tests.conftest import Tenant
from tests.polling import wait_for


async def inbox_of(workspace_id: str, channel: str, config: dict[str, Any]) -> Inbox:
    public, hidden = secrets.apply_config({}, {}, config)
    async with db.get_database().sessionmaker() as session:
        inbox = Inbox(
            workspace_id=int(workspace_id),
            name=channel,
            channel=channel,
            config=public,
            credentials=secrets.seal(hidden),
        )
        session.add(inbox)
        await db.commit(session)
    return inbox


async def stored(inbox: Inbox) -> list[Message]:
    async with db.get_database().sessionmaker() as session:
        rows = await session.execute(select(Message).where(Message.inbox_id == inbox.id).order_by(Message.id))
        return list(rows.scalars())


def whatsapp_text(wa_id: str, wamid: str, text: str) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": wa_id}],
        "messages": [
            {"from": wa_id, "id": wamid, "timestamp": "1749416383", "type": "text", "text": {"body": text}}
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return orjson.dumps(body)


async def test_whatsapp_message_links_the_contact_with_that_phone_number(
    tenant: Tenant, anon: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    known = (
        await api.post("/api/v1/contacts", json={"phoneNumber": "+16505551234", "firstName": "Known"})
    ).json()
    inbox = await inbox_of(
        tenant.workspace_id,
        "whatsapp",
        {"phoneNumberId": "106540352242922", "accessToken": "t", "appSecret": "s3cret", "verifyToken": "v"},
    )
    raw = whatsapp_text("16505551234", "wamid.A1", "Does it come in another color?")
    signature = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    path = f"/webhooks/whatsapp/{inbox.id}"
    forged = await anon.post(path, content=raw, headers={"x-hub-signature-256": "sha256=" + "0" * 64})
    assert forged.status_code == 403
    for _ in range(2):  # Meta redelivers: stored once
        answer = await anon.post(path, content=raw, headers={"x-hub-signature-256": signature})
        assert answer.status_code == 200
    (message,) = await wait_for(lambda: stored(inbox))
    assert message.content == "Does it come in another color?" and str(message.contact_id) == known["id"]
    async with db.get_database().sessionmaker() as session:
        link = await session.scalar(select(ContactInbox).where(ContactInbox.inbox_id == inbox.id))
    assert link is not None and link.source_id == "16505551234" and str(link.contact_id) == known["id"]


async def test_telegram_update_creates_the_contact_from_its_profile(
    tenant: Tenant, anon: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    inbox = await inbox_of(
        tenant.workspace_id, "telegram", {"botToken": "123:abc", "webhookSecret": "tg-secret"}
    )
    update = {
        "update_id": 2342342343242,
        "message": {
            "message_id": 1,
            "from": {
                "id": 23,
                "is_bot": False,
                "first_name": "Sojan",
                "last_name": "Jose",
                "language_code": "en",
            },
            "chat": {"id": 23, "first_name": "Sojan", "last_name": "Jose", "type": "private"},
            "date": 1631132077,
            "text": "test",
        },
    }
    path = f"/webhooks/telegram/{inbox.id}"
    assert (
        await anon.post(path, json=update, headers={"x-telegram-bot-api-secret-token": "nope"})
    ).status_code == 403
    answer = await anon.post(path, json=update, headers={"x-telegram-bot-api-secret-token": "tg-secret"})
    assert answer.status_code == 200
    (message,) = await wait_for(lambda: stored(inbox))
    assert message.content == "test"
    contact = (await api.get(f"/api/v1/contacts/{message.contact_id}")).json()
    assert (contact["firstName"], contact["lastName"], contact["source"]) == ("Sojan", "Jose", "telegram")
