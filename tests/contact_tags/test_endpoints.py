from __future__ import annotations

import httpx

from tests.conftest import Tenant
from tests.contact_tags.factories import make_contact, make_tag


def tags_url(contact_id: int | str) -> str:
    return f"/api/v1/contacts/id:{contact_id}/tags"


async def tag_names(api: httpx.AsyncClient, contact_id: int) -> list[str]:
    response = await api.get(tags_url(contact_id))
    assert response.status_code == 200, response.text
    return [tag["name"] for tag in response.json()]


async def test_add_list_and_remove_tags(tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id, email="ann@example.com")
    vip, lead, cold = [await make_tag(tenant.workspace_id, n) for n in ("vip2", "lead2", "cold2")]
    assert await tag_names(api, contact.id) == []

    added = await api.post(tags_url(contact.id), json={"tagIds": [str(vip.id), lead.id]})
    assert added.status_code == 204, added.text
    assert added.content == b""
    listed = (await api.get(tags_url(contact.id))).json()
    assert [t["name"] for t in listed] == ["lead2", "vip2"]
    assert set(listed[0]) == {"id", "createdAt", "updatedAt", "name", "deletedAt", "folderId", "workspaceId"}
    assert listed[0]["id"] == str(lead.id) and listed[0]["workspaceId"] == tenant.workspace_id

    # Adding again is idempotent; a duplicate id in one request is harmless.
    again = await api.post(tags_url(contact.id), json={"tagIds": [vip.id, cold.id, cold.id]})
    assert again.status_code == 204, again.text
    assert await tag_names(api, contact.id) == ["cold2", "lead2", "vip2"]

    # The email identifier reaches the same contact.
    by_email = await api.get("/api/v1/contacts/email:ann@EXAMPLE.com/tags")
    assert [t["name"] for t in by_email.json()] == ["cold2", "lead2", "vip2"]

    # DELETE with a JSON body really removes; a tag the contact lacks is ignored.
    other = await make_tag(tenant.workspace_id, "unused")
    removed = await api.request("DELETE", tags_url(contact.id), json={"tagIds": [vip.id, other.id]})
    assert removed.status_code == 204, removed.text
    assert await tag_names(api, contact.id) == ["cold2", "lead2"]
    removed = await api.request("DELETE", tags_url(contact.id), json={"tagIds": [str(cold.id), str(lead.id)]})
    assert removed.status_code == 204
    assert await tag_names(api, contact.id) == []


async def test_tag_ids_accept_a_single_id_or_comma_list(tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    a, b, c = [await make_tag(tenant.workspace_id, n) for n in ("a", "b", "c")]
    assert (await api.post(tags_url(contact.id), json={"tagIds": str(a.id)})).status_code == 204
    assert (await api.post(tags_url(contact.id), json={"tagIds": f"{b.id}, {c.id}"})).status_code == 204
    assert await tag_names(api, contact.id) == ["a", "b", "c"]
    assert (await api.post(tags_url(contact.id), json={"tag_ids": [a.id]})).status_code == 204


async def test_unknown_or_foreign_tag_is_404_naming_it_and_writes_nothing(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    mine = await make_tag(tenant.workspace_id, "mine")
    foreign = await make_tag(other_tenant.workspace_id, "theirs")
    missing = 123456789

    response = await api.post(tags_url(contact.id), json={"tagIds": [mine.id, foreign.id, missing]})
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["code"] == "NOT_FOUND"
    assert body["data"]["tagIds"] == [str(foreign.id), str(missing)]
    assert str(foreign.id) in body["message"] and str(missing) in body["message"]
    assert await tag_names(api, contact.id) == []

    assert (await api.post(tags_url(contact.id), json={"tagIds": [mine.id]})).status_code == 204
    response = await api.request("DELETE", tags_url(contact.id), json={"tagIds": [mine.id, foreign.id]})
    assert response.status_code == 404
    assert response.json()["data"]["tagIds"] == [str(foreign.id)]
    assert await tag_names(api, contact.id) == ["mine"]


async def test_deleted_tag_is_neither_listed_nor_addable(tenant: Tenant) -> None:
    import datetime as dt

    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    gone = await make_tag(tenant.workspace_id, "gone", deleted_at=dt.datetime.now(dt.UTC))
    assert (await api.post(tags_url(contact.id), json={"tagIds": [gone.id]})).status_code == 404


async def test_other_workspace_contact_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = await make_contact(other_tenant.workspace_id, email="bob@example.com")
    mine = await make_tag(tenant.workspace_id, "t")
    api = tenant.client
    assert (await api.get(tags_url(theirs.id))).status_code == 404
    assert (await api.get("/api/v1/contacts/email:bob@example.com/tags")).status_code == 404
    assert (await api.post(tags_url(theirs.id), json={"tagIds": [mine.id]})).status_code == 404
    response = await api.request("DELETE", tags_url(theirs.id), json={"tagIds": [mine.id]})
    assert response.status_code == 404
    assert response.json()["data"]["resource"] == "contact"


async def test_bad_bodies_and_identifiers_are_422(tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    tag = await make_tag(tenant.workspace_id, "t")
    url = tags_url(contact.id)
    for body in (
        {},
        {"tagIds": []},
        {"tagIds": ["abc"]},
        {"tagIds": [0]},
        {"tagIds": [True]},
        {"tagIds": [{"id": 1}]},
        {"tagIds": [str(i + 1) for i in range(101)]},
        {"tagIds": [tag.id], "extra": 1},
    ):
        response = await api.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "INVALID_REQUEST_DATA"
        assert response.json()["data"]["errors"][0]["field"].startswith(("tagIds", "extra"))
    response = await api.request("DELETE", url)
    assert response.status_code == 422
    response = await api.get("/api/v1/contacts/id:abc/tags")
    assert response.status_code == 422
    assert response.json()["data"]["errors"][0]["field"] == "identifier"
    assert await tag_names(api, contact.id) == []


async def test_tags_of_many_contacts_stay_apart(tenant: Tenant) -> None:
    api = tenant.client
    first, second = await make_contact(tenant.workspace_id), await make_contact(tenant.workspace_id)
    tag = await make_tag(tenant.workspace_id, "shared")
    assert (await api.post(tags_url(first.id), json={"tagIds": [tag.id]})).status_code == 204
    assert (await api.post(tags_url(second.id), json={"tagIds": [tag.id]})).status_code == 204
    response = await api.request("DELETE", tags_url(first.id), json={"tagIds": [tag.id]})
    assert response.status_code == 204
    assert await tag_names(api, first.id) == []
    assert await tag_names(api, second.id) == ["shared"]
