from __future__ import annotations

import httpx


async def test_tag_crud(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/v1/tags", json={"name": "vip"})
    assert created.status_code == 201, created.text
    tag = created.json()
    assert tag["name"] == "vip" and isinstance(tag["id"], str) and tag["id"].isdigit()

    assert (await api.get("/api/v1/tags/vip")).json()["id"] == tag["id"]
    assert (await api.get(f"/api/v1/tags/{tag['id']}")).json()["name"] == "vip"
    assert [t["name"] for t in (await api.get("/api/v1/tags")).json()] == ["vip"]

    renamed = await api.put(f"/api/v1/tags/{tag['id']}", json={"name": "gold"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "gold"

    assert (await api.delete(f"/api/v1/tags/{tag['id']}")).status_code == 204
    missing = await api.get(f"/api/v1/tags/{tag['id']}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"


async def test_duplicate_name_is_a_conflict_and_writes_nothing(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/v1/tags", json={"name": "dup"})).status_code == 201
    again = await api.post("/api/v1/tags", json={"name": "dup"})
    assert again.status_code == 409
    assert again.json()["code"] == "DUPLICATE_NAME"
    assert len((await api.get("/api/v1/tags")).json()) == 1


async def test_validation_names_the_field(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/tags", json={"name": ""})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "INVALID_REQUEST_DATA"
    assert body["data"]["errors"][0]["field"] == "name"


async def test_malformed_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/tags", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "MALFORMED_JSON"


async def test_other_workspace_tag_is_404(api: httpx.AsyncClient, other_tenant) -> None:  # type: ignore[no-untyped-def]
    tag = (await api.post("/api/v1/tags", json={"name": "mine"})).json()
    other = other_tenant.client
    assert (await other.get(f"/api/v1/tags/{tag['id']}")).status_code == 404
    assert (await other.put(f"/api/v1/tags/{tag['id']}", json={"name": "x"})).status_code == 404
    assert (await other.delete(f"/api/v1/tags/{tag['id']}")).status_code == 404
