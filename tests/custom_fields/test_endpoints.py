from __future__ import annotations

import httpx
from sqlalchemy import func, select

from chatbotx.kit import db
from chatbotx.models import Contact, ContactCustomField
from tests.conftest import Tenant


async def _add_value(workspace_id: str, field_id: str, value: str | None) -> None:
    async with db.get_database().sessionmaker() as session:
        contact = Contact(workspace_id=int(workspace_id), first_name="Ann")
        session.add(contact)
        await session.flush()
        session.add(ContactCustomField(contact_id=contact.id, custom_field_id=int(field_id), value=value))
        await db.commit(session)


async def _count_values(field_id: str) -> int:
    async with db.get_database().sessionmaker() as session:
        stmt = select(func.count()).where(ContactCustomField.custom_field_id == int(field_id))
        return int(await session.scalar(stmt) or 0)


async def test_custom_field_crud(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/api/v1/custom-fields", json={"name": "plan", "type": "shortText", "description": "Billing plan"}
    )
    assert created.status_code == 201, created.text
    field = created.json()
    assert set(field) == {
        "id",
        "createdAt",
        "updatedAt",
        "name",
        "type",
        "description",
        "folderId",
        "workspaceId",
    }
    assert (
        field["type"] == "shortText" and field["description"] == "Billing plan" and field["folderId"] is None
    )

    assert (await api.get("/api/v1/custom-fields/plan")).json()["id"] == field["id"]
    assert (await api.get(f"/api/v1/custom-fields/{field['id']}")).json()["name"] == "plan"
    assert [f["name"] for f in (await api.get("/api/v1/custom-fields")).json()] == ["plan"]

    updated = await api.put(
        f"/api/v1/custom-fields/{field['id']}",
        json={"name": "tier", "description": None, "folderId": "123", "type": "longText"},
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["name"], body["description"], body["folderId"], body["type"]) == (
        "tier",
        None,
        "123",
        "longText",
    )

    assert (await api.delete(f"/api/v1/custom-fields/{field['id']}")).status_code == 204
    missing = await api.get(f"/api/v1/custom-fields/{field['id']}")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"


async def test_numeric_name_is_found_by_name(api: httpx.AsyncClient) -> None:
    field = (await api.post("/api/v1/custom-fields", json={"name": "2024", "type": "number"})).json()
    assert (await api.get("/api/v1/custom-fields/2024")).json()["id"] == field["id"]


async def test_duplicate_name_is_409(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/v1/custom-fields", json={"name": "a", "type": "number"})).status_code == 201
    again = await api.post("/api/v1/custom-fields", json={"name": "a", "type": "email"})
    assert again.status_code == 409 and again.json()["code"] == "DUPLICATE_NAME"
    other = (await api.post("/api/v1/custom-fields", json={"name": "b", "type": "number"})).json()
    rename = await api.put(f"/api/v1/custom-fields/{other['id']}", json={"name": "a"})
    assert rename.status_code == 409
    assert sorted(f["name"] for f in (await api.get("/api/v1/custom-fields")).json()) == ["a", "b"]


async def test_bad_type_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/custom-fields", json={"name": "x", "type": "colour"})
    assert response.status_code == 422
    assert response.json()["data"]["errors"][0]["field"] == "type"
    assert (await api.post("/api/v1/custom-fields", json={"name": "x"})).status_code == 422
    assert (await api.post("/api/v1/custom-fields", json={"name": "", "type": "email"})).status_code == 422
    assert (
        await api.post("/api/v1/custom-fields", json={"name": "x", "type": "email", "extra": 1})
    ).status_code == 422
    assert (await api.get("/api/v1/custom-fields")).json() == []


async def test_type_change_refused_while_values_exist(tenant: Tenant) -> None:
    api = tenant.client
    field = (await api.post("/api/v1/custom-fields", json={"name": "age", "type": "number"})).json()
    await _add_value(tenant.workspace_id, field["id"], "42")
    refused = await api.put(f"/api/v1/custom-fields/{field['id']}", json={"type": "date", "name": "years"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "FIELD_HAS_VALUES"
    unchanged = (await api.get(f"/api/v1/custom-fields/{field['id']}")).json()
    assert (unchanged["type"], unchanged["name"]) == ("number", "age")
    # Same type, other changes: fine.
    ok = await api.put(f"/api/v1/custom-fields/{field['id']}", json={"type": "number", "description": "d"})
    assert ok.status_code == 200


async def test_delete_removes_values(tenant: Tenant) -> None:
    api = tenant.client
    field = (await api.post("/api/v1/custom-fields", json={"name": "city", "type": "shortText"})).json()
    await _add_value(tenant.workspace_id, field["id"], "Hanoi")
    assert await _count_values(field["id"]) == 1
    assert (await api.delete(f"/api/v1/custom-fields/{field['id']}")).status_code == 204
    assert await _count_values(field["id"]) == 0


async def test_other_workspace_is_404(api: httpx.AsyncClient, other_tenant: Tenant) -> None:
    field = (await api.post("/api/v1/custom-fields", json={"name": "mine", "type": "email"})).json()
    other = other_tenant.client
    assert (await other.get(f"/api/v1/custom-fields/{field['id']}")).status_code == 404
    assert (await other.get("/api/v1/custom-fields/mine")).status_code == 404
    assert (await other.put(f"/api/v1/custom-fields/{field['id']}", json={"name": "x"})).status_code == 404
    assert (await other.delete(f"/api/v1/custom-fields/{field['id']}")).status_code == 404
    assert (await other.get("/api/v1/custom-fields")).json() == []


async def test_unparsable_id_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.put("/api/v1/custom-fields/abc", json={"name": "x"})).status_code == 404
    assert (await api.delete("/api/v1/custom-fields/-1")).status_code == 404
