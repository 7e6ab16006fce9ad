"""NUL characters are refused in the path, the query and JSON bodies alike, on both databases."""

from __future__ import annotations

import httpx


async def test_nul_in_query_is_422(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/tags?keyword=a%00b")
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_REQUEST_DATA"


async def test_nul_in_path_is_422(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/tags/a%00b")
    assert response.status_code == 422


async def test_nul_in_body_is_422_and_writes_nothing(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/tags", json={"name": "a\u0000b"})
    assert response.status_code == 422
    assert (await api.get("/api/v1/tags")).json() == []


async def test_concurrent_requests_of_two_workspaces_stay_apart(tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    await tenant.client.post("/api/v1/tags", json={"name": "mine"})
    await other_tenant.client.post("/api/v1/tags", json={"name": "theirs"})
    for _ in range(5):
        mine, theirs = await asyncio.gather(
            tenant.client.get("/api/v1/tags"), other_tenant.client.get("/api/v1/tags")
        )
        assert [t["name"] for t in mine.json()] == ["mine"]
        assert [t["name"] for t in theirs.json()] == ["theirs"]
