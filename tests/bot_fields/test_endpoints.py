from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tenant

URL = "/api/v1/bot-fields"


async def _create(api: httpx.AsyncClient, name: str, type_: str, value: Any = None) -> dict[str, Any]:
    response = await api.post(URL, json={"name": name, "type": type_, "value": value})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _values(api: httpx.AsyncClient) -> dict[str, Any]:
    return {f["name"]: f["value"] for f in (await api.get(URL)).json()}


async def test_create_get_list(api: httpx.AsyncClient) -> None:
    created = await api.post(
        URL, json={"name": "hotline", "type": "phoneNumber", "value": "+1 650 253 0000", "description": None}
    )
    assert created.status_code == 201, created.text
    field = created.json()
    assert set(field) == {
        "id",
        "createdAt",
        "updatedAt",
        "name",
        "type",
        "value",
        "description",
        "folderId",
        "workspaceId",
    }
    assert field["value"] == "+16502530000"
    assert (await api.get(f"{URL}/hotline")).json()["id"] == field["id"]
    assert (await api.get(f"{URL}/{field['id']}")).json()["name"] == "hotline"
    assert [f["name"] for f in (await api.get(URL)).json()] == ["hotline"]
    empty = await _create(api, "note", "longText")
    assert empty["value"] is None


@pytest.mark.parametrize(
    ("type_", "value", "stored"),
    [
        ("number", "3.50", "3.5"),
        ("number", 7, "7"),
        ("boolean", True, "true"),
        ("boolean", "no", "false"),
        ("date", "2026-01-31", "2026-01-31"),
        ("datetime", "2026-01-31T10:00:00+02:00", "2026-01-31T08:00:00Z"),
        ("email", "A@Example.COM", "A@example.com"),
    ],
)
async def test_values_are_typed(api: httpx.AsyncClient, type_: str, value: Any, stored: str) -> None:
    assert (await _create(api, "f", type_, value))["value"] == stored


@pytest.mark.parametrize(
    ("type_", "value"),
    [("number", "ten"), ("boolean", "maybe"), ("date", "31/01/2026"), ("email", "nope"), ("shortText", [1])],
)
async def test_bad_values_are_422(api: httpx.AsyncClient, type_: str, value: Any) -> None:
    response = await api.post(URL, json={"name": "f", "type": type_, "value": value})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "INVALID_REQUEST_DATA"
    assert (await api.get(URL)).json() == []


async def test_bad_type_and_duplicate(api: httpx.AsyncClient) -> None:
    assert (await api.post(URL, json={"name": "f", "type": "colour", "value": None})).status_code == 422
    await _create(api, "f", "number", 1)
    again = await api.post(URL, json={"name": "f", "type": "number", "value": 2})
    assert again.status_code == 409 and again.json()["code"] == "DUPLICATE_NAME"
    assert await _values(api) == {"f": "1"}


async def test_set_one_by_id_or_name(api: httpx.AsyncClient) -> None:
    field = await _create(api, "count", "number", 1)
    by_name = await api.put(f"{URL}/count", json={"value": "2"})
    assert by_name.status_code == 200 and by_name.json()["value"] == "2"
    by_id = await api.put(f"{URL}/{field['id']}", json={"value": 3})
    assert by_id.status_code == 200 and by_id.json()["value"] == "3"
    bad = await api.put(f"{URL}/count", json={"value": "three"})
    assert bad.status_code == 422
    assert bad.json()["data"]["errors"][0]["field"] == "value"
    assert (await api.put(f"{URL}/count", json={})).status_code == 422
    assert (await api.put(f"{URL}/nope", json={"value": 1})).status_code == 404
    assert await _values(api) == {"count": "3"}


async def test_delete_unsets_the_value_and_keeps_the_field(api: httpx.AsyncClient) -> None:
    field = await _create(api, "greeting", "shortText", "hi")
    assert (await api.delete(f"{URL}/greeting")).status_code == 204
    kept = (await api.get(f"{URL}/{field['id']}")).json()
    assert kept["value"] is None and kept["name"] == "greeting"
    assert (await api.delete(f"{URL}/missing")).status_code == 404


async def test_set_many_by_id_or_name(api: httpx.AsyncClient) -> None:
    a = await _create(api, "a", "number", 1)
    await _create(api, "b", "boolean", False)
    response = await api.put(
        URL, json={"fields": [{"id": a["id"], "value": 10}, {"name": "b", "value": "yes"}]}
    )
    assert response.status_code == 204, response.text
    assert await _values(api) == {"a": "10", "b": "true"}


async def test_set_many_is_all_or_nothing(api: httpx.AsyncClient) -> None:
    await _create(api, "a", "number", 1)
    await _create(api, "b", "number", 2)
    bad_value = await api.put(URL, json={"fields": [{"name": "a", "value": 5}, {"name": "b", "value": "x"}]})
    assert bad_value.status_code == 422
    assert bad_value.json()["data"]["errors"][0]["field"] == "fields.1.value"
    unknown = await api.put(URL, json={"fields": [{"name": "a", "value": 5}, {"name": "zz", "value": 1}]})
    assert unknown.status_code == 404 and unknown.json()["data"]["missing"] == ["zz"]
    twice = await api.put(URL, json={"fields": [{"name": "a", "value": 5}, {"name": "a", "value": 6}]})
    assert twice.status_code == 422
    assert await _values(api) == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    "item",
    [{"value": 1}, {"id": "1", "name": "a", "value": 1}, {"name": "a"}, {"idOrName": "a", "value": 1}],
)
async def test_set_many_item_shape(api: httpx.AsyncClient, item: dict[str, Any]) -> None:
    await _create(api, "a", "number", 1)
    assert (await api.put(URL, json={"fields": [item]})).status_code == 422
    assert (await api.put(URL, json={"fields": []})).status_code == 422
    too_many = [{"name": "a", "value": 1}] * 21
    assert (await api.put(URL, json={"fields": too_many})).status_code == 422


async def test_bulk_update(api: httpx.AsyncClient) -> None:
    a = await _create(api, "a", "number", 1)
    await _create(api, "b", "shortText", "x")
    await _create(api, "c", "shortText", "y")
    response = await api.put(
        f"{URL}/bulk-update",
        json={
            "fields": [
                {"idOrName": a["id"], "value": 2},
                {"idOrName": "b", "value": "bee"},
                {"name": "c", "value": None},
            ]
        },
    )
    assert response.status_code == 204, response.text
    assert await _values(api) == {"a": "2", "b": "bee", "c": None}
    rolled_back = await api.put(
        f"{URL}/bulk-update",
        json={"fields": [{"idOrName": "b", "value": "z"}, {"idOrName": "a", "value": "q"}]},
    )
    assert rolled_back.status_code == 422
    assert await _values(api) == {"a": "2", "b": "bee", "c": None}
    ambiguous = await api.put(
        f"{URL}/bulk-update", json={"fields": [{"idOrName": "b", "name": "b", "value": 1}]}
    )
    assert ambiguous.status_code == 422


async def test_bulk_update_takes_100(api: httpx.AsyncClient) -> None:
    await _create(api, "n", "number", 0)
    many = [{"idOrName": "n", "value": i} for i in range(101)]
    assert (await api.put(f"{URL}/bulk-update", json={"fields": many})).status_code == 422
    fields = []
    for i in range(30):
        await _create(api, f"f{i:02}", "number", 0)
        fields.append({"idOrName": f"f{i:02}", "value": i})
    assert (await api.put(f"{URL}/bulk-update", json={"fields": fields})).status_code == 204
    values = await _values(api)
    assert values["f29"] == "29" and values["f00"] == "0"


async def test_other_workspace_is_404(api: httpx.AsyncClient, other_tenant: Tenant) -> None:
    field = await _create(api, "mine", "number", 1)
    other = other_tenant.client
    assert (await other.get(f"{URL}/{field['id']}")).status_code == 404
    assert (await other.get(f"{URL}/mine")).status_code == 404
    assert (await other.put(f"{URL}/{field['id']}", json={"value": 2})).status_code == 404
    assert (await other.delete(f"{URL}/{field['id']}")).status_code == 404
    assert (await other.put(URL, json={"fields": [{"id": field["id"], "value": 3}]})).status_code == 404
    bulk = await other.put(f"{URL}/bulk-update", json={"fields": [{"idOrName": field["id"], "value": 3}]})
    assert bulk.status_code == 404
    assert await _values(api) == {"mine": "1"}
