"""The plain contact list: one statement a page, no transaction around it, each workspace its own."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from chatbotx.contacts import plain_list
from chatbotx.models import Contact
from tests.conftest import Tenant, statements_of_this_task
from tests.contacts import helpers

BASE = "/api/v1/contacts"


async def _names(tenant: Tenant, query: str) -> list[str]:
    response = await tenant.client.get(BASE + query)
    assert response.status_code == 200, response.text
    return [c["firstName"] for c in response.json()["data"]]


async def test_one_statement_a_page(tenant: Tenant) -> None:
    await helpers.add(*(Contact(workspace_id=int(tenant.workspace_id), first_name=f"c{i}") for i in range(4)))
    await tenant.client.get(BASE + "?perPage=2")  # the token is resolved and cached
    with statements_of_this_task() as statements:
        assert len(await _names(tenant, "?perPage=2&page=2")) == 2
    assert len(statements) == 1, statements
    assert statements[0].lstrip().startswith("WITH p AS")
    # Past the end the page is empty, so the total costs a second statement.
    with statements_of_this_task() as statements:
        response = await tenant.client.get(BASE + "?perPage=2&page=9")
    assert response.json() == {"data": [], "pageCount": 2}
    assert len(statements) == 2, statements


async def test_each_workspace_sees_its_own_contacts(tenant: Tenant, other_tenant: Tenant) -> None:
    await helpers.add(Contact(workspace_id=int(tenant.workspace_id), first_name="mine"))
    await helpers.add(
        *(Contact(workspace_id=int(other_tenant.workspace_id), first_name=f"theirs{i}") for i in range(3))
    )
    # The same page of two workspaces: PostgreSQL's text differs only in the workspace id written into it.
    assert await _names(tenant, "?perPage=5") == ["mine"]
    assert sorted(await _names(other_tenant, "?perPage=5")) == ["theirs0", "theirs1", "theirs2"]
    assert await _names(tenant, "?perPage=5") == ["mine"]


def test_the_workspace_id_is_the_only_varying_part() -> None:
    pg_parts, pg_params = plain_list.page_sql(postgresql.asyncpg.dialect(), 50, 100)
    assert pg_params == 0 and len(pg_parts) == 3  # the page and the total
    assert "LIMIT 50 OFFSET 100" in "".join(pg_parts)
    lite_parts, lite_params = plain_list.page_sql(sqlite.aiosqlite.dialect(), 50, 100)
    assert lite_params == 2 and len(lite_parts) == 1
