"""No N+1: the number of SQL statements for a page of contacts does not grow with the contacts on it."""

from __future__ import annotations

import httpx

from tests.api import resources
from tests.conftest import Tenant, statements_of_this_task


async def _page_queries(client: httpx.AsyncClient, per_page: int) -> int:
    await client.get("/api/v1/contacts", params={"perPage": per_page})  # the token is resolved and cached
    with statements_of_this_task() as statements:
        response = await client.get("/api/v1/contacts", params={"perPage": per_page})
    assert response.status_code == 200, response.text
    contacts = response.json()["data"]
    assert len(contacts) == per_page
    assert all(
        c["tags"] and c["contactNotes"] and c["contactInboxes"] and c["conversation"] for c in contacts
    )
    return len(statements)


async def test_contact_page_queries_do_not_grow_with_the_page(tenant: Tenant) -> None:
    for _ in range(12):  # each: a contact with a tag, a field value, a note, a contact inbox, a conversation
        await resources.seed_workspace(int(tenant.workspace_id))
    small = await _page_queries(tenant.client, 2)
    large = await _page_queries(tenant.client, 12)
    print(f"statements per page: {small} (2 contacts), {large} (12 contacts)")
    assert small == large, f"{small} statements for 2 contacts, {large} for 12: an N+1 somewhere"
    assert large <= 15, f"{large} statements for one page of contacts"
