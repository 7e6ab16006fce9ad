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
