"""pageCount stays exact: the trigger-kept counter follows every insert and delete, however they are made."""

from __future__ import annotations

import httpx
from sqlalchemy import insert

from chatbotx.kit import db
from chatbotx.kit.ids import new_id
from chatbotx.models import Contact


async def _page_count(api: httpx.AsyncClient, **params: object) -> int:
    response = await api.get("/api/v1/contacts", params={"perPage": 1, **params})
    assert response.status_code == 200, response.text
    return int(response.json()["pageCount"])


async def test_page_count_follows_api_writes_immediately(api: httpx.AsyncClient) -> None:
    assert await _page_count(api) == 0
    ids = []
    for i in range(3):
        created = await api.post("/api/v1/contacts", json={"email": f"c{i}@example.com"})
        ids.append(created.json()["id"])
        assert await _page_count(api) == i + 1
    assert (await api.delete(f"/api/v1/contacts/{ids[0]}")).status_code == 204
    assert await _page_count(api) == 2


async def test_page_count_follows_bulk_inserts_made_outside_the_api(tenant, api: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    workspace_id = int(tenant.workspace_id)
    rows = [{"id": new_id(), "workspace_id": workspace_id, "first_name": f"Bulk{i}"} for i in range(25)]
    async with db.get_database().sessionmaker() as session:
        await session.execute(insert(Contact), rows)
        await db.commit(session)
    assert await _page_count(api) == 25
    assert await _page_count(api, perPage=10) == 3
    # A filtered list counts exactly too.
    assert await _page_count(api, keyword="bulk1") == 11  # Bulk1, Bulk10..Bulk19


async def test_counts_are_per_workspace(api: httpx.AsyncClient, other_tenant) -> None:  # type: ignore[no-untyped-def]
    await api.post("/api/v1/contacts", json={"email": "mine@example.com"})
    assert await _page_count(api) == 1
    assert await _page_count(other_tenant.client) == 0
