from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from chatbotx.kit import db
from chatbotx.models import Broadcast, Contact, ContactTag, Tag
from chatbotx.workspaces.service import create_token
from tests.conftest import Tenant
from tests.lists.rows import ids, insert

T0 = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


def acme_only() -> dict[str, Any]:
    return {
        "operator": "and",
        "conditions": [{"field": "email", "operator": "endsWith", "value": "@acme.com"}],
    }


async def test_list_and_get_broadcasts(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    spring = Broadcast(
        workspace_id=ws,
        name="Spring sale",
        audience=acme_only(),
        status="completed",
        total_count=10,
        sent_count=9,
        failed_count=1,
        created_at=T0,
    )
    summer = Broadcast(workspace_id=ws, name="Summer sale", created_at=T0 + dt.timedelta(days=90))
    digits = Broadcast(workspace_id=ws, name="2026", created_at=T0 + dt.timedelta(days=1))
    foreign = Broadcast(workspace_id=int(other_tenant.workspace_id), name="Spring sale")
    await insert(spring, summer, digits, foreign)
    api = tenant.client

    async def listed(**params: object) -> list[str]:
        response = await api.get("/api/v1/broadcasts", params=params)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return ids(response.json())

    body = (await api.get("/api/v1/broadcasts")).json()
    assert ids(body) == [str(summer.id), str(digits.id), str(spring.id)]  # newest first
    item = body[2]
    assert item == {
        "id": str(spring.id),
        "createdAt": "2026-02-01T00:00:00Z",
        "updatedAt": item["updatedAt"],
        "name": "Spring sale",
        "status": "completed",
        "inboxId": None,
        "channel": None,
        "audience": acme_only(),
        "policy": "within24h",
        "flowId": None,
        "templateMessageId": None,
        "content": {},
        "scheduledAt": None,
        "startedAt": None,
        "finishedAt": None,
        "throttlePerMinute": None,
        "totalCount": 10,
        "sentCount": 9,
        "failedCount": 1,
        "workspaceId": tenant.workspace_id,
    }
    assert await listed(keyword="SALE") == [str(summer.id), str(spring.id)]
    assert await listed(keyword="winter") == []
    assert await listed(status="completed") == [str(spring.id)]
    assert await listed(status="running") == []
    assert await listed(page=2, perPage=2) == [str(spring.id)]

    assert (await api.get(f"/api/v1/broadcasts/{spring.id}")).json()["name"] == "Spring sale"
    assert (await api.get("/api/v1/broadcasts/Spring sale")).json()["id"] == str(spring.id)
    assert (await api.get("/api/v1/broadcasts/2026")).json()["id"] == str(digits.id)  # a name made of digits
    missing = await api.get("/api/v1/broadcasts/Autumn")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert (await api.get(f"/api/v1/broadcasts/{foreign.id}")).status_code == 404
    other = other_tenant.client
    assert (await other.get(f"/api/v1/broadcasts/{spring.id}")).status_code == 404
    assert (await other.get(f"/api/v1/broadcasts/{spring.id}/audience")).status_code == 404
    assert (await other.get("/api/v1/broadcasts/Spring sale")).json()["id"] == str(foreign.id)
    assert ids((await other.get("/api/v1/broadcasts")).json()) == [str(foreign.id)]


async def test_broadcast_audience(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    vip = Tag(workspace_id=ws, name="vip")
    acme = [
        Contact(
            workspace_id=ws, first_name=f"a{i}", email=f"a{i}@acme.com", created_at=T0 + dt.timedelta(hours=i)
        )
        for i in range(5)
    ]
    globex = Contact(
        workspace_id=ws, first_name="g", email="g@globex.com", created_at=T0 - dt.timedelta(hours=1)
    )
    foreign = Contact(workspace_id=int(other_tenant.workspace_id), email="x@acme.com")
    await insert(vip, *acme, globex, foreign)
    await insert(
        ContactTag(contact_id=acme[1].id, tag_id=vip.id), ContactTag(contact_id=globex.id, tag_id=vip.id)
    )
    by_email = Broadcast(workspace_id=ws, name="Acme", audience=acme_only())
    vip_filter = {
        "operator": "and",
        "conditions": [{"field": "tags", "operator": "in", "value": [str(vip.id)]}],
    }
    by_tag = Broadcast(workspace_id=ws, name="VIPs", audience=vip_filter)
    everyone = Broadcast(workspace_id=ws, name="Everyone", audience={})
    none_filter = {"conditions": [{"field": "email", "operator": "eq", "value": "none@none.com"}]}
    nobody = Broadcast(workspace_id=ws, name="Nobody", audience=none_filter)
    broken = Broadcast(workspace_id=ws, name="Broken", audience={"conditions": [{"field": "shoeSize"}]})
    await insert(by_email, by_tag, everyone, nobody, broken)
    api = tenant.client

    async def audience(name: str, **params: object) -> tuple[list[str], int]:
        response = await api.get(f"/api/v1/broadcasts/{name}/audience", params=params)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return ids(response.json()["data"]), response.json()["pageCount"]

    newest_first = [str(c.id) for c in reversed(acme)]
    assert await audience("Acme") == (newest_first, 1)
    assert await audience(str(by_email.id)) == (newest_first, 1)
    assert await audience("VIPs") == ([str(acme[1].id), str(globex.id)], 1)
    assert await audience("Everyone") == ([*newest_first, str(globex.id)], 1)
    assert await audience("Nobody") == ([], 0)

    walked: list[str] = []
    for page in (1, 2, 3):
        chunk, count = await audience("Acme", page=page, perPage=2)
        assert count == 3
        walked += chunk
    assert walked == newest_first

    # Full contact objects, like the contacts list.
    contact = (await api.get("/api/v1/broadcasts/VIPs/audience")).json()["data"][0]
    assert contact["email"] == "a1@acme.com" and [t["name"] for t in contact["tags"]] == ["vip"]
    for key in ("contactCustomFields", "contactNotes", "contactInboxes", "conversation", "workspaceId"):
        assert key in contact

    bad = await api.get("/api/v1/broadcasts/Broken/audience")
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_AUDIENCE"
    assert (await api.get("/api/v1/broadcasts/Missing/audience")).status_code == 404


async def test_audience_needs_the_contacts_scope(tenant: Tenant, app: object) -> None:
    ws = int(tenant.workspace_id)
    await insert(Broadcast(workspace_id=ws, name="Scoped"))
    async with db.get_database().sessionmaker() as session:
        _, plain = await create_token(session, ws, ["broadcasts.list"])
        await db.commit(session)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {plain}"},
    ) as client:
        assert (await client.get("/api/v1/broadcasts/Scoped")).status_code == 200
        denied = await client.get("/api/v1/broadcasts/Scoped/audience")
        assert denied.status_code == 403 and denied.json()["code"] == "FORBIDDEN"
