from __future__ import annotations

import httpx

from chatbotx.models import Inbox, Keyword
from tests.conftest import Tenant
from tests.lists.rows import ids, insert


async def test_list_keywords_filters_and_order(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    inbox = Inbox(workspace_id=ws, name="tg", channel="telegram")
    await insert(inbox)
    low = Keyword(workspace_id=ws, name="Pricing", phrases=["price", "cost"], priority=1)
    high = Keyword(
        workspace_id=ws, name="Hello", phrases=["hi"], priority=5, inbox_id=inbox.id, match_type="contains"
    )
    off = Keyword(workspace_id=ws, name="Old promo", phrases=["promo"], active=False)
    foreign = Keyword(workspace_id=int(other_tenant.workspace_id), name="Theirs", phrases=["x"])
    await insert(low, high, off, foreign)
    api = tenant.client

    async def listed(**params: object) -> list[str]:
        response = await api.get("/api/v1/keywords", params=params)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return ids(response.json())

    everything = (await api.get("/api/v1/keywords")).json()
    assert ids(everything) == [str(high.id), str(low.id), str(off.id)]  # priority first, then name
    hello = everything[0]
    assert hello == {
        "id": str(high.id),
        "createdAt": hello["createdAt"],
        "updatedAt": hello["updatedAt"],
        "name": "Hello",
        "phrases": ["hi"],
        "matchType": "contains",
        "inboxId": str(inbox.id),
        "replyType": "text",
        "replyText": None,
        "flowId": None,
        "priority": 5,
        "active": True,
        "folderId": None,
        "workspaceId": tenant.workspace_id,
    }
    assert await listed(keyword="PRIC") == [str(low.id)]
    assert await listed(keyword="nothing") == []
    assert await listed(inboxId=str(inbox.id)) == [str(high.id)]
    assert await listed(inboxId="123") == []
    assert await listed(active="false") == [str(off.id)]
    assert await listed(active="true") == [str(high.id), str(low.id)]
    assert await listed(page=2, perPage=2) == [str(off.id)]
    assert await listed(perPage=1) == [str(high.id)]
    assert (await api.get("/api/v1/keywords", params={"inboxId": "x"})).status_code == 422
    assert (await api.get("/api/v1/keywords", params={"page": 0})).status_code == 422
    assert ids((await other_tenant.client.get("/api/v1/keywords")).json()) == [str(foreign.id)]


async def test_keywords_need_the_scope(anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/api/v1/keywords")).status_code == 401
