"""Channel webhooks /webhooks/{channel}/{inboxId}: verify, store once, answer fast, kick the job."""

from __future__ import annotations

import httpx
import orjson
import pytest
from sqlalchemy import delete, func, select, update

from chatbotx.inboxes import secrets
from chatbotx.kit import db
from chatbotx.models import InboundEvent, Inbox, Message
from tests.conftest import Tenant
from tests.inbound import testchan
from tests.inbound.testchan import make_inbox, message, post
from tests.polling import wait_for


@pytest.fixture(autouse=True)
def adapter() -> testchan.TestChanAdapter:
    return testchan.install()


async def count(model: type, inbox_id: int) -> int:
    async with db.get_database().sessionmaker() as session:
        return int(
            await session.scalar(select(func.count()).select_from(model).where(model.inbox_id == inbox_id))
            or 0
        )


async def test_signed_webhook_is_stored_and_processed(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    answer = await post(anon, inbox, {"messages": [message("u1", "hello")]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True, "received": 1, "stored": 1}
    await wait_for(lambda: count(Message, inbox.id))
    assert await count(InboundEvent, inbox.id) == 1


@pytest.mark.parametrize("secret", ["wrong-secret", None])
async def test_forged_or_missing_signature_stores_nothing(
    tenant: Tenant, anon: httpx.AsyncClient, secret: str | None
) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    raw = orjson.dumps({"messages": [message("u1")]})
    headers = {"content-type": "application/json"}
    if secret:
        headers["x-test-signature"] = testchan.sign(raw, secret)
    answer = await anon.post(f"/webhooks/testchan/{inbox.id}", content=raw, headers=headers)
    assert answer.status_code == 403
    assert answer.json()["code"] == "INVALID_SIGNATURE" and answer.json()["status"] == 403
    assert await count(InboundEvent, inbox.id) == 0
    assert await count(Message, inbox.id) == 0


async def test_tampered_body_is_rejected(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    raw = orjson.dumps({"messages": [message("u1", "a")]})
    signature = testchan.sign(raw)
    tampered = raw.replace(b'"a"', b'"b"')
    answer = await anon.post(
        f"/webhooks/testchan/{inbox.id}", content=tampered, headers={"x-test-signature": signature}
    )
    assert answer.status_code == 403
    assert await count(InboundEvent, inbox.id) == 0


async def test_duplicates_are_stored_once(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    body = {"messages": [message("u1", "once", id="m-1"), message("u1", "once", id="m-1")]}
    first = await post(anon, inbox, body)
    assert first.json() == {"ok": True, "received": 2, "stored": 1}
    again = await post(anon, inbox, body)
    assert again.status_code == 200 and again.json()["stored"] == 0
    await wait_for(lambda: count(Message, inbox.id))
    assert (await post(anon, inbox, body)).json()["stored"] == 0
    assert await count(InboundEvent, inbox.id) == 1
    assert await count(Message, inbox.id) == 1


async def test_unknown_inbox_or_wrong_channel_is_404(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    raw = orjson.dumps({"messages": [message("u1")]})
    headers = {"x-test-signature": testchan.sign(raw)}
    for path in (
        "/webhooks/testchan/123456789",
        "/webhooks/testchan/not-an-id",
        f"/webhooks/nochannel/{inbox.id}",
        f"/webhooks/telegram/{inbox.id}",
    ):
        answer = await anon.post(path, content=raw, headers=headers)
        assert answer.status_code == 404, path
        assert answer.json()["code"] == "NOT_FOUND"
    assert await count(InboundEvent, inbox.id) == 0


async def test_unparsable_verified_body_is_400_and_stores_nothing(
    tenant: Tenant, anon: httpx.AsyncClient
) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    raw = b"{not json"
    answer = await anon.post(
        f"/webhooks/testchan/{inbox.id}", content=raw, headers={"x-test-signature": testchan.sign(raw)}
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_WEBHOOK"
    assert await count(InboundEvent, inbox.id) == 0


async def test_handshake(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    inbox = await make_inbox(tenant.workspace_id)
    ok = await anon.get(f"/webhooks/testchan/{inbox.id}", params={"challenge": "1158201444", "token": "vc"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = await anon.get(f"/webhooks/testchan/{inbox.id}", params={"challenge": "1", "token": "nope"})
    assert bad.status_code == 403
    assert (await anon.get(f"/webhooks/testchan/{inbox.id}")).status_code == 404
    assert (await anon.get("/webhooks/testchan/1")).status_code == 404


async def test_webhooks_are_not_in_the_api_document(anon: httpx.AsyncClient) -> None:
    spec = (await anon.get("/api/openapi.json")).json()
    assert not [path for path in spec["paths"] if path.startswith("/webhooks")]


async def test_a_rotated_secret_or_deleted_inbox_is_seen_at_once(
    tenant: Tenant, anon: httpx.AsyncClient
) -> None:
    """The endpoint caches each inbox's channel context (decrypted credentials) only while the inbox's config
    and sealed credentials read back unchanged: a new secret counts from the next webhook, a deleted inbox is
    a 404 at once."""
    inbox = await make_inbox(tenant.workspace_id)
    assert (await post(anon, inbox, {"messages": [message("u1", id="r-1")]})).status_code == 200
    async with db.get_database().sessionmaker() as session:
        await session.execute(
            update(Inbox)
            .where(Inbox.id == inbox.id)
            .values(credentials=secrets.seal({"appSecret": "rotated", "verifyCode": "vc"}))
        )
        await db.commit(session)
    old = await post(anon, inbox, {"messages": [message("u1", id="r-2")]})
    assert old.status_code == 403 and old.json()["code"] == "INVALID_SIGNATURE"
    new = await post(anon, inbox, {"messages": [message("u1", id="r-3")]}, secret="rotated")
    assert new.status_code == 200 and new.json()["stored"] == 1

    async def both_handled() -> bool:
        return await count(Message, inbox.id) == 2

    await wait_for(both_handled)
    async with db.get_database().sessionmaker() as session:
        await session.execute(delete(InboundEvent).where(InboundEvent.inbox_id == inbox.id))
        await session.execute(delete(Message).where(Message.inbox_id == inbox.id))
        await session.execute(delete(Inbox).where(Inbox.id == inbox.id))
        await db.commit(session)
    gone = await post(anon, inbox, {"messages": [message("u1", id="r-4")]}, secret="rotated")
    assert gone.status_code == 404
