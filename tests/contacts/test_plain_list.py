"""The plain contact list: typed rows serialized by orjson, byte for byte contacts_out's output; a constant
number of statements a page (one on PostgreSQL); each workspace its own."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import orjson

from chatbotx.contacts import plain_list, service
from chatbotx.contacts.serialize import contacts_out, dumps_json, select_contact_rows
from chatbotx.kit import db
from chatbotx.kit.pagination import PageParams
from chatbotx.models import Contact, ContactTag, Conversation, Tag, User
from tests.conftest import Tenant, statements_of_this_task
from tests.contacts import helpers
from tests.contacts.test_sqljson import MICROS, ODD, WHOLE_SECOND, _seed

BASE = "/api/v1/contacts"


async def _names(tenant: Tenant, query: str) -> list[str]:
    response = await tenant.client.get(BASE + query)
    assert response.status_code == 200, response.text
    return [c["firstName"] for c in response.json()["data"]]


async def _reference(workspace_id: int, page: PageParams) -> bytes:
    """The page as contacts_out + dumps_json render it (the serializer of get/create/upsert)."""
    async with db.get_database().sessionmaker() as session:
        clauses = [Contact.workspace_id == workspace_id]
        total = await service.count_contacts(session, workspace_id, clauses)
        stmt = (
            select_contact_rows()
            .where(*clauses)
            .order_by(*service.DEFAULT_SORT)
            .limit(page.per_page)
            .offset(page.offset)
        )
        data = await contacts_out(session, (await session.execute(stmt)).all())
    return dumps_json({"data": data, "pageCount": page.page_count(total)})


async def _same_bytes(tenant: Tenant, page: int, per_page: int) -> Any:
    response = await tenant.client.get(BASE, params={"page": page, "perPage": per_page})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    expected = await _reference(int(tenant.workspace_id), PageParams(page=page, perPage=per_page))
    assert response.content == expected, (page, per_page)
    return orjson.loads(response.content)


async def test_bytes_equal_contacts_out(tenant: Tenant) -> None:
    """Every nested kind, null and not, odd strings, whole-second and microsecond timestamps, shared tags,
    deleted tags, ties in the orders, additionalAttributes with non-ASCII keys: the same bytes."""
    await _seed(int(tenant.workspace_id))
    body = await _same_bytes(tenant, 1, 50)
    assert len(body["data"]) == 8
    full = next(c for c in body["data"] if c["email"] == "full@example.com")
    # (so the equality above covers every kind)
    assert [t["name"] for t in full["tags"]] == ["Alpha", "beta", "zeta"]
    assert full["createdAt"] == "2025-01-02T03:04:05Z" and full["updatedAt"] == "2025-06-07T08:09:10.120000Z"
    assert len(full["contactCustomFields"]) == 2 and len(full["contactNotes"]) == 3
    assert len(full["contactInboxes"]) == 2 and full["conversation"]["assignedUser"]["name"] == ODD
    assert full["conversation"]["additionalAttributes"]["ü"] == ODD
    for per_page, page in ((3, 1), (3, 2), (3, 3), (3, 4), (1, 1), (1, 8), (2, 3)):
        await _same_bytes(tenant, page, per_page)


async def test_tags_shared_by_many_contacts_and_many_conversations(tenant: Tenant) -> None:
    """A page whose contacts share tags (each tag's object is built once a page) and have several
    conversations (the latest by lastActivityAt, then id; null activity included)."""
    ws = int(tenant.workspace_id)
    contacts = [
        await helpers.contact(ws, first_name=f"c{i}", created_at=WHOLE_SECOND + dt.timedelta(seconds=i))
        for i in range(7)
    ]
    tags = [(await helpers.add(Tag(workspace_id=ws, name=name)))[0] for name in ("b", "a", "C", "é")]
    (gone,) = await helpers.add(Tag(workspace_id=ws, name="aa", deleted_at=MICROS))
    (verified,) = await helpers.add(
        User(email=f"verified-{ws}@example.com", name="V", email_verified=True, image="https://x/y.png")
    )
    (anonymous,) = await helpers.add(User(email=f"anon-{ws}@example.com", is_anonymous=True))
    for i, c in enumerate(contacts):
        await helpers.add(
            *(ContactTag(contact_id=c.id, tag_id=t.id) for t in tags[: i % 5]),
            ContactTag(contact_id=c.id, tag_id=gone.id),
        )
        await helpers.add(
            *(
                Conversation(
                    workspace_id=ws,
                    contact_id=c.id,
                    last_activity_at=None if k == 0 else MICROS + dt.timedelta(minutes=k % 2),
                    assigned_user_id=(verified.id, anonymous.id, None)[(i + k) % 3],
                    followed=k % 2 == 1,
                )
                for k in range(i % 4)
            )
        )
    for per_page, page in ((7, 1), (3, 1), (3, 2), (3, 3), (2, 4)):
        await _same_bytes(tenant, page, per_page)


async def test_one_statement_a_page_on_postgresql_a_fixed_number_on_sqlite(tenant: Tenant) -> None:
    await helpers.add(*(Contact(workspace_id=int(tenant.workspace_id), first_name=f"c{i}") for i in range(5)))
    await tenant.client.get(BASE + "?perPage=2")  # the token is resolved and cached
    counts = []
    for query in ("?perPage=2&page=2", "?perPage=4", "?perPage=2&page=3"):
        with statements_of_this_task() as statements:
            assert await _names(tenant, query)
        counts.append(len(statements))
    postgres = db.get_database().engine.dialect.name == "postgresql"
    # Whatever the page's size: no statement per contact.
    assert counts == [1, 1, 1] if postgres else counts == [7, 7, 7], counts
    assert (
        statements[0].lstrip().startswith("WITH p AS" if postgres else "SELECT (SELECT n FROM contact_count")
    )
    # Past the end the page is empty, so the total costs one more statement.
    with statements_of_this_task() as statements:
        response = await tenant.client.get(BASE + "?perPage=2&page=9")
    assert response.json() == {"data": [], "pageCount": 3}
    assert len(statements) == counts[0] + 1, statements


async def test_each_workspace_sees_its_own_contacts(tenant: Tenant, other_tenant: Tenant) -> None:
    await helpers.add(Contact(workspace_id=int(tenant.workspace_id), first_name="mine"))
    await helpers.add(
        *(Contact(workspace_id=int(other_tenant.workspace_id), first_name=f"theirs{i}") for i in range(3))
    )
    # The same page of two workspaces: PostgreSQL's text differs only in the workspace id written into it.
    assert await _names(tenant, "?perPage=5") == ["mine"]
    assert sorted(await _names(other_tenant, "?perPage=5")) == ["theirs0", "theirs1", "theirs2"]
    assert await _names(tenant, "?perPage=5") == ["mine"]


async def test_a_failed_read_leaves_the_pool_usable(tenant: Tenant, monkeypatch: Any) -> None:
    """A statement failing in the middle of the read (SQLite: inside its read transaction) fails the request;
    the connection is dropped and the next requests are answered normally."""
    await helpers.add(Contact(workspace_id=int(tenant.workspace_id), first_name="one"))
    monkeypatch.setattr(
        plain_list, "sqlite_nested_sql", lambda count: ("SELECT no_such_column FROM contact",)
    )
    monkeypatch.setattr(plain_list, "pg_sql", lambda per_page, offset: ("SELECT no_such_column",))
    with contextlib.suppress(Exception):  # the ASGI transport re-raises the server's error
        response = await tenant.client.get(BASE + "?perPage=5")
        assert response.status_code == 500
    monkeypatch.undo()
    for _ in range(3):
        assert await _names(tenant, "?perPage=5") == ["one"]


def test_the_workspace_id_is_the_only_varying_part() -> None:
    parts = plain_list.pg_sql(50, 100)
    assert len(parts) == 3  # the page and the total
    assert "LIMIT 50 OFFSET 100" in "".join(parts)
    assert "?" not in plain_list.sqlite_page_sql(50, 100).replace("workspace_id = ?", "")
    assert all(sql.count("?") == 3 for sql in plain_list.sqlite_nested_sql(3))  # the page's ids
    assert plain_list.SQLITE_TAGS_SQL.count("?") == 1  # the page's tag ids, as a JSON array
