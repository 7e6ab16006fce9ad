from __future__ import annotations

import httpx

from tests.conftest import Tenant
from tests.contact_tags.factories import make_contact, make_field


def url(contact_id: int, field: object = None) -> str:
    base = f"/api/v1/contacts/id:{contact_id}/custom-fields"
    return base if field is None else f"{base}/{field}"


async def values(api: httpx.AsyncClient, contact_id: int) -> dict[str, str | None]:
    response = await api.get(url(contact_id))
    assert response.status_code == 200, response.text
    return {item["name"]: item["value"] for item in response.json()}


async def test_set_get_and_clear_one_value(tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    plan = await make_field(tenant.workspace_id, "plan")
    assert await values(api, contact.id) == {}

    created = await api.post(url(contact.id, plan.id), json={"value": "premium"})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["value"] == "premium" and body["name"] == "plan" and body["type"] == "shortText"
    assert body["contactId"] == str(contact.id) and body["customFieldId"] == str(plan.id)
    assert set(body) == {
        "id", "createdAt", "updatedAt", "value", "contactId", "customFieldId", "name", "type"
    }  # fmt: skip

    fetched = await api.get(url(contact.id, plan.id))
    assert fetched.status_code == 200 and fetched.json() == body

    updated = await api.post(url(contact.id, "plan"), json={"value": "basic"})
    assert updated.status_code == 200
    assert updated.json()["id"] == body["id"] and updated.json()["value"] == "basic"
    listed = (await api.get(url(contact.id))).json()
    assert [(item["id"], item["value"]) for item in listed] == [(body["id"], "basic")]

    assert (await api.delete(url(contact.id, "plan"))).status_code == 204
    missing = await api.get(url(contact.id, plan.id))
    assert missing.status_code == 404 and missing.json()["data"]["resource"] == "contactCustomField"
    # Clearing again is fine; the field still exists.
    assert (await api.delete(url(contact.id, plan.id))).status_code == 204
    assert await values(api, contact.id) == {}


async def test_values_are_typed_by_the_field(tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    cases = [
        ("number", 42, "42"),
        ("number", "42.50", "42.5"),
        ("boolean", "yes", "true"),
        ("boolean", False, "false"),
        ("date", "2025-02-03", "2025-02-03"),
        ("datetime", "2025-02-03T04:05:06+02:00", "2025-02-03T02:05:06Z"),
        ("email", "Ann@EXAMPLE.com", "Ann@example.com"),
        ("phoneNumber", "+1 650 253 0000", "+16502530000"),
        ("longText", "x" * 1000, "x" * 1000),
    ]
    for index, (field_type, given, stored) in enumerate(cases):
        field = await make_field(tenant.workspace_id, f"f{index}", field_type)
        response = await api.post(url(contact.id, field.id), json={"value": given})
        assert response.status_code == 200, (field_type, response.text)
        assert response.json()["value"] == stored and response.json()["type"] == field_type


async def test_bad_value_is_422_naming_the_field_and_writes_nothing(tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    age = await make_field(tenant.workspace_id, "age", "number")
    short = await make_field(tenant.workspace_id, "nick", "shortText")
    assert (await api.post(url(contact.id, age.id), json={"value": 30})).status_code == 200

    for field, value in ((age, "thirty"), (age, True), (short, "x" * 256), (short, False)):
        response = await api.post(url(contact.id, field.id), json={"value": value})
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["code"] == "INVALID_REQUEST_DATA"
        assert field.name in body["message"]
        assert body["data"]["errors"][0]["field"] == "value"
        assert body["data"]["errors"][0]["name"] == field.name
    for value in (None, [1], {"a": 1}):
        response = await api.post(url(contact.id, age.id), json={"value": value})
        assert response.status_code == 422, (value, response.text)
        assert response.json()["data"]["errors"][0]["field"].startswith("value")
    assert (await api.post(url(contact.id, age.id), json={})).status_code == 422
    assert (await api.post(url(contact.id, age.id), json={"value": 1, "x": 2})).status_code == 422
    assert await values(api, contact.id) == {"age": "30"}


async def test_set_many_by_id_or_name_and_null_clears(tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    plan = await make_field(tenant.workspace_id, "plan")
    age = await make_field(tenant.workspace_id, "age", "number")
    vip = await make_field(tenant.workspace_id, "vip", "boolean")
    response = await api.put(
        url(contact.id),
        json={
            "fields": [
                {"customFieldId": str(plan.id), "value": "gold"},
                {"id": age.id, "value": "7"},
                {"name": "vip", "value": "on"},
            ]
        },
    )
    assert response.status_code == 204, response.text
    assert await values(api, contact.id) == {"age": "7", "plan": "gold", "vip": "true"}

    response = await api.put(
        url(contact.id),
        json={"fields": [{"name": "plan", "value": None}, {"customFieldId": vip.id, "value": False}]},
    )
    assert response.status_code == 204, response.text
    assert await values(api, contact.id) == {"age": "7", "vip": "false"}

    # A copied list item (row id + customFieldId) is read by customFieldId.
    item = (await api.get(url(contact.id))).json()[0]
    response = await api.put(
        url(contact.id),
        json={"fields": [{"id": age.id, "customFieldId": item["customFieldId"], "value": "8"}]},
    )
    assert response.status_code == 204
    assert (await values(api, contact.id))[item["name"]] == "8"


async def test_set_many_is_all_or_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    plan = await make_field(tenant.workspace_id, "plan")
    age = await make_field(tenant.workspace_id, "age", "number")
    when = await make_field(tenant.workspace_id, "when", "date")
    foreign = await make_field(other_tenant.workspace_id, "plan")
    await api.put(url(contact.id), json={"fields": [{"name": "plan", "value": "old"}]})

    bad_values = await api.put(
        url(contact.id),
        json={
            "fields": [
                {"name": "plan", "value": "new"},
                {"id": age.id, "value": "many"},
                {"id": when.id, "value": "yesterday"},
            ]
        },
    )
    assert bad_values.status_code == 422, bad_values.text
    errors = bad_values.json()["data"]["errors"]
    assert [(e["field"], e["name"]) for e in errors] == [
        ("fields.1.value", "age"),
        ("fields.2.value", "when"),
    ]
    assert "age" in bad_values.json()["message"] and "when" in bad_values.json()["message"]

    unknown = await api.put(
        url(contact.id),
        json={
            "fields": [
                {"name": "plan", "value": "new"},
                {"id": foreign.id, "value": "x"},
                {"name": "nope", "value": "x"},
            ]
        },
    )
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["data"]["fields"] == [str(foreign.id), "nope"]

    twice = await api.put(
        url(contact.id),
        json={"fields": [{"name": "plan", "value": "a"}, {"id": plan.id, "value": "b"}]},
    )
    assert twice.status_code == 422
    assert twice.json()["data"]["errors"][0]["field"] == "fields.1"
    assert await values(api, contact.id) == {"plan": "old"}


async def test_set_many_body_limits(tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    fields = [await make_field(tenant.workspace_id, f"f{i}") for i in range(21)]
    too_many = {"fields": [{"id": f.id, "value": "v"} for f in fields]}
    for body in (
        {},
        {"fields": []},
        too_many,
        {"fields": [{"value": "no reference"}]},
        {"fields": [{"id": "abc", "value": "x"}]},
        {"fields": [{"name": "f0"}]},
        {"fields": [{"name": "f0", "value": "x", "extra": 1}]},
    ):
        response = await api.put(url(contact.id), json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["data"]["errors"][0]["field"].startswith("fields")
    exactly_twenty = {"fields": [{"id": f.id, "value": "v"} for f in fields[:20]]}
    assert (await api.put(url(contact.id), json=exactly_twenty)).status_code == 204
    assert len(await values(api, contact.id)) == 20


async def test_clear_all(tenant: Tenant) -> None:
    api = tenant.client
    contact, other = await make_contact(tenant.workspace_id), await make_contact(tenant.workspace_id)
    plan = await make_field(tenant.workspace_id, "plan")
    age = await make_field(tenant.workspace_id, "age", "number")
    for who in (contact, other):
        body = {"fields": [{"id": plan.id, "value": "p"}, {"id": age.id, "value": 1}]}
        assert (await api.put(url(who.id), json=body)).status_code == 204
    assert (await api.delete(url(contact.id))).status_code == 204
    assert await values(api, contact.id) == {}
    assert await values(api, other.id) == {"age": "1", "plan": "p"}
    assert (await api.delete(url(contact.id))).status_code == 204


async def test_other_workspace_contact_or_field_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    api = tenant.client
    mine = await make_contact(tenant.workspace_id)
    theirs = await make_contact(other_tenant.workspace_id)
    my_field = await make_field(tenant.workspace_id, "plan")
    their_field = await make_field(other_tenant.workspace_id, "secret")
    other_api = other_tenant.client
    assert (await other_api.post(url(theirs.id, their_field.id), json={"value": "x"})).status_code == 200

    calls = [
        ("GET", url(theirs.id), None),
        ("PUT", url(theirs.id), {"fields": [{"id": my_field.id, "value": "x"}]}),
        ("DELETE", url(theirs.id), None),
        ("GET", url(theirs.id, my_field.id), None),
        ("POST", url(theirs.id, my_field.id), {"value": "x"}),
        ("DELETE", url(theirs.id, my_field.id), None),
        ("GET", url(mine.id, their_field.id), None),
        ("POST", url(mine.id, their_field.id), {"value": "x"}),
        ("DELETE", url(mine.id, their_field.id), None),
        ("DELETE", url(mine.id, "secret"), None),
        ("GET", url(mine.id, "no-such-field"), None),
        ("GET", url(mine.id, "99999999999999999999999"), None),
    ]
    for method, path, body in calls:
        response = await api.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "NOT_FOUND"
    # The other workspace's value is untouched.
    assert (await other_api.get(url(theirs.id, their_field.id))).json()["value"] == "x"
    assert await values(api, mine.id) == {}
