from __future__ import annotations

import httpx

from tests.conftest import Tenant
from tests.lists.rows import ids


async def test_flow_crud_and_seed_recipe(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/api/v1/flows", json={"name": "Welcome", "description": "greets", "definition": {"nodes": []}}
    )
    assert created.status_code == 201, created.text
    flow = created.json()
    assert flow["name"] == "Welcome" and flow["id"].isdigit()
    assert flow["status"] == "draft" and flow["version"] == 1 and flow["definition"] == {"nodes": []}
    assert flow["folderId"] is None and flow["workspaceId"].isdigit()

    listed = (await api.get("/api/v1/flows")).json()
    # The seed's recipe: `flows list --json | jq -r '.[] | select(.name=="Welcome") | .id'`.
    assert [f["id"] for f in listed if f["name"] == "Welcome"] == [flow["id"]]
    assert "definition" not in listed[0]

    got = await api.get(f"/api/v1/flows/{flow['id']}")
    assert got.status_code == 200 and got.json()["definition"] == {"nodes": []}

    renamed = await api.put(f"/api/v1/flows/{flow['id']}", json={"name": "Hello", "status": "published"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Hello" and renamed.json()["status"] == "published"
    assert renamed.json()["version"] == 1  # no definition change, no new version

    bumped = await api.put(f"/api/v1/flows/{flow['id']}", json={"definition": {"nodes": [{"id": "a"}]}})
    assert bumped.json()["version"] == 2 and bumped.json()["definition"] == {"nodes": [{"id": "a"}]}

    assert (await api.delete(f"/api/v1/flows/{flow['id']}")).status_code == 204
    assert (await api.get(f"/api/v1/flows/{flow['id']}")).status_code == 404
    assert (await api.get("/api/v1/flows")).json() == []


async def test_flow_validation(api: httpx.AsyncClient) -> None:
    for body in (
        {"name": ""},
        {"name": "x", "definition": [1, 2]},
        {"name": "x", "definition": "nodes"},
        {"name": "x", "unknown": 1},
        {"name": "x", "status": "live"},
    ):
        response = await api.post("/api/v1/flows", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "INVALID_REQUEST_DATA"
    assert (await api.get("/api/v1/flows")).json() == []
    assert (await api.get("/api/v1/flows/not-an-id")).status_code == 404
    assert (await api.put("/api/v1/flows/0", json={"name": "y"})).status_code == 404
    assert (await api.get("/api/v1/flows", params={"folderId": "abc"})).status_code == 422


async def test_duplicate_flow_name_is_a_conflict(api: httpx.AsyncClient) -> None:
    first = (await api.post("/api/v1/flows", json={"name": "Welcome"})).json()
    again = await api.post("/api/v1/flows", json={"name": "Welcome"})
    assert again.status_code == 409 and again.json()["code"] == "DUPLICATE_NAME"
    other = (await api.post("/api/v1/flows", json={"name": "Other"})).json()
    clash = await api.put(f"/api/v1/flows/{other['id']}", json={"name": "Welcome"})
    assert clash.status_code == 409
    same = await api.put(f"/api/v1/flows/{first['id']}", json={"name": "Welcome"})
    assert same.status_code == 200


async def test_flow_filters_and_paging(api: httpx.AsyncClient) -> None:
    a = (await api.post("/api/v1/flows", json={"name": "Alpha onboarding", "folderId": "11"})).json()
    b = (await api.post("/api/v1/flows", json={"name": "Beta", "description": "ONBOARDING part 2"})).json()
    c = (await api.post("/api/v1/flows", json={"name": "Gamma", "status": "published"})).json()

    async def names(**params: str) -> list[str]:
        response = await api.get("/api/v1/flows", params=params)
        assert response.status_code == 200, response.text
        return [f["name"] for f in response.json()]

    assert await names() == ["Alpha onboarding", "Beta", "Gamma"]
    assert await names(keyword="onBoarding") == ["Alpha onboarding", "Beta"]
    assert await names(keyword="zzz") == []
    assert await names(keyword="%") == []  # LIKE wildcards are literal
    assert await names(folderId="11") == ["Alpha onboarding"]
    assert await names(folderId="12") == []
    assert await names(status="published") == ["Gamma"]
    assert await names(status="draft") == ["Alpha onboarding", "Beta"]

    seen: list[str] = []
    for page in (1, 2, 3):
        chunk = (await api.get("/api/v1/flows", params={"page": page, "perPage": 2})).json()
        seen += ids(chunk)
    assert seen == [a["id"], b["id"], c["id"]]


async def test_other_workspace_flow_is_invisible(api: httpx.AsyncClient, other_tenant: Tenant) -> None:
    flow = (await api.post("/api/v1/flows", json={"name": "Mine"})).json()
    other = other_tenant.client
    assert (await other.get("/api/v1/flows")).json() == []
    assert (await other.get(f"/api/v1/flows/{flow['id']}")).status_code == 404
    assert (await other.put(f"/api/v1/flows/{flow['id']}", json={"name": "x"})).status_code == 404
    assert (await other.delete(f"/api/v1/flows/{flow['id']}")).status_code == 404
    assert (await other.post("/api/v1/flows", json={"name": "Mine"})).status_code == 201


async def test_nul_bytes_in_flow_text_are_422(api: httpx.AsyncClient) -> None:
    for body in ({"name": "a\x00b"}, {"name": "ok", "description": "x\x00"}):
        response = await api.post("/api/v1/flows", json=body)
        assert response.status_code == 422, response.text
    # NUL is refused anywhere in a body, nested JSON included, so both databases behave alike.
    body = {"name": "ok", "definition": {"text": "nul \x00 inside"}}
    assert (await api.post("/api/v1/flows", json=body)).status_code == 422
    assert (await api.get("/api/v1/flows")).json() == []
    flow = (await api.post("/api/v1/flows", json={"name": "ok"})).json()
    assert (await api.put(f"/api/v1/flows/{flow['id']}", json={"name": "\x00"})).status_code == 422
