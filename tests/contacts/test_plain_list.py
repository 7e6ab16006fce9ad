"""Contact list pages: typed rows serialized by orjson (contacts.plain_list), byte for byte contacts_out's
output (the Python serializer of get/create/upsert, broadcasts and inbound), on every kind of page: the plain
list, each sort, a keyword (PostgreSQL: each way of finding its page), a filter, channels, pages past the
end; a constant number of statements a page; each workspace its own; on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from chatbotx.contacts import plain_list, service
from chatbotx.contacts.filters import parse_contact_filter
from chatbotx.contacts.serialize import contacts_out, dumps_json, select_contact_rows
from chatbotx.kit import db
from chatbotx.kit.pagination import PageParams, parse_sort
from chatbotx.models import (
    Contact,
    ContactInbox,
    ContactNote,
    ContactTag,
    Conversation,
    Inbox,
    Member,
    Tag,
    User,
)
from chatbotx.workspaces.service import create_token
from tests.conftest import Tenant, statements_of_this_task
from tests.contacts import helpers

BASE = "/api/v1/contacts"
ODD = 'Nguyễn "quoted" back\\slash\nnew line\ttab \x01 </script> 😀'
WHOLE_SECOND = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
MICROS = dt.datetime(2025, 6, 7, 8, 9, 10, 120000, tzinfo=dt.UTC)


async def _seed(workspace_id: int) -> None:
    """Contacts with every kind of nested data, and contacts with none."""
    async with db.get_database().sessionmaker() as session:
        member_id = await session.scalar(select(Member.id).where(Member.workspace_id == workspace_id))
    full = await helpers.contact(
        workspace_id,
        first_name=ODD,
        last_name="Lê",
        email="full@example.com",
        phone_number="+84901234567",
        avatar="https://example.com/a.png",
        gender="female",
        ref="r-1",
        source="import",
        country="VN",
        state="HCM",
        city="Thủ Đức",
        location="10.8,106.7",
        locale="vi_VN",
        timezone="Asia/Ho_Chi_Minh",
        email_verified=True,
        email_opt_in=False,
        created_at=WHOLE_SECOND,
        updated_at=MICROS,
        last_read_at=MICROS,
        subscribed_at=WHOLE_SECOND,
        broadcast_subscribed_at=MICROS,
        blocked_at=WHOLE_SECOND,
    )
    bare = await helpers.contact(workspace_id, email_opt_in=False, created_at=MICROS)
    await helpers.contact(workspace_id, first_name="Nothing", created_at=MICROS - dt.timedelta(days=1))
    tie = await helpers.contact(workspace_id, first_name="Tie", created_at=MICROS)  # same createdAt as `bare`

    plan = await helpers.custom_field(workspace_id, "plan", "shortText")
    notes_field = await helpers.custom_field(workspace_id, "notes", "longText")
    await helpers.field_value(full.id, plan.id, ODD)
    await helpers.field_value(full.id, notes_field.id, None)
    await helpers.field_value(tie.id, plan.id, "gold")
    for name in ("zeta", "Alpha", "beta"):
        await helpers.tag(workspace_id, name, full.id, tie.id)
    (deleted,) = await helpers.add(Tag(workspace_id=workspace_id, name="gone", deleted_at=MICROS))
    await helpers.tag(workspace_id, "solo", bare.id)
    await helpers.add(ContactTag(contact_id=full.id, tag_id=deleted.id))
    await helpers.add(
        ContactNote(contact_id=full.id, text=ODD, created_by_id=member_id, created_at=WHOLE_SECOND),
        ContactNote(contact_id=full.id, text="same time", created_at=WHOLE_SECOND),
        ContactNote(contact_id=full.id, text="newest", created_at=MICROS),
    )
    telegram = await helpers.inbox(workspace_id, "telegram", name=ODD)
    (no_source,) = await helpers.add(
        Inbox(workspace_id=workspace_id, name="mail", channel="smtp", source_id=None, status="error")
    )
    await helpers.add(
        ContactInbox(contact_id=full.id, inbox_id=no_source.id, source_id="b", created_at=MICROS),
        ContactInbox(contact_id=full.id, inbox_id=telegram.id, source_id="a", created_at=WHOLE_SECOND),
        ContactInbox(contact_id=tie.id, inbox_id=telegram.id, source_id="c", created_at=MICROS),
    )
    agent = await helpers.user(f"agent-{workspace_id}@example.com", name=ODD)
    team = await helpers.team(workspace_id, "Support")
    await helpers.add(
        Conversation(workspace_id=workspace_id, contact_id=full.id, last_activity_at=WHOLE_SECOND),
        Conversation(
            workspace_id=workspace_id,
            contact_id=full.id,
            inbox_id=telegram.id,
            assigned_user_id=agent.id,
            assigned_team_id=team.id,
            last_activity_at=MICROS,
            bot_enabled=False,
            followed=True,
            bot_resume_at=WHOLE_SECOND,
            archived_at=MICROS,
            contact_last_read_at=MICROS,
            agent_last_read_at=WHOLE_SECOND,
            admin_replied_at=MICROS,
            contact_replied_at=WHOLE_SECOND,
            ai_context_last_message_id=123456789012345678,
            additional_attributes={"nested": {"a": [1, 2.5, None, True, "x"]}, "ü": ODD},
        ),
        # Two conversations with the same lastActivityAt: the higher id is the latest.
        Conversation(workspace_id=workspace_id, contact_id=bare.id, last_activity_at=MICROS),
        Conversation(
            workspace_id=workspace_id, contact_id=bare.id, last_activity_at=MICROS, additional_attributes={}
        ),
        Conversation(
            workspace_id=workspace_id, contact_id=tie.id, inbox_id=no_source.id, assigned_team_id=team.id
        ),
    )
    await helpers.add(*(Contact(workspace_id=workspace_id, first_name=f"filler{i}") for i in range(4)))


async def _names(tenant: Tenant, query: str) -> list[str]:
    response = await tenant.client.get(BASE + query)
    assert response.status_code == 200, response.text
    return [c["firstName"] for c in response.json()["data"]]


async def _reference(workspace_id: int, params: dict[str, Any]) -> bytes:
    """The response as contacts_out + dumps_json render the page, found by a plain query."""
    query = service.ListQuery(
        sort=params.get("sort"),
        keyword=params.get("keyword"),
        contact_filter=parse_contact_filter(params.get("contactFilter")),
        channels=params.get("channels", ()),
    )
    page = PageParams(page=params.get("page", 1), perPage=params.get("perPage", 20))
    async with db.get_database().sessionmaker() as session:
        order = parse_sort(query.sort, service.SORTABLE, service.DEFAULT_SORT)
        if order is not service.DEFAULT_SORT:
            order = [*order, Contact.id.desc()]
        clauses = await service.where_clauses(session, workspace_id, query)
        total = await service.count_contacts(session, workspace_id, clauses)
        stmt = select_contact_rows().where(*clauses).order_by(*order).limit(page.per_page).offset(page.offset)
        data = await contacts_out(session, (await session.execute(stmt)).all())
    return dumps_json({"data": data, "pageCount": page.page_count(total)})


async def _same_bytes(tenant: Tenant, params: dict[str, Any]) -> Any:
    response = await tenant.client.get(BASE, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == await _reference(int(tenant.workspace_id), params), params
    return orjson.loads(response.content)


async def test_bytes_equal_contacts_out(tenant: Tenant) -> None:
    """Every nested kind, null and not, odd strings, whole-second and microsecond timestamps, shared tags,
    deleted tags, ties in the orders, additionalAttributes with non-ASCII keys: the same bytes, whatever
    found the page."""
    await _seed(int(tenant.workspace_id))
    body = await _same_bytes(tenant, {"perPage": 50})
    assert len(body["data"]) == 8 and body["pageCount"] == 1
    full = next(c for c in body["data"] if c["email"] == "full@example.com")
    # (so the equality above covers every kind)
    assert [t["name"] for t in full["tags"]] == ["Alpha", "beta", "zeta"]
    assert full["createdAt"] == "2025-01-02T03:04:05Z" and full["updatedAt"] == "2025-06-07T08:09:10.120000Z"
    assert len(full["contactCustomFields"]) == 2 and len(full["contactNotes"]) == 3
    assert full["contactNotes"][0]["text"] == "newest"
    assert len(full["contactInboxes"]) == 2 and full["conversation"]["assignedUser"]["name"] == ODD
    conversation = full["conversation"]
    assert conversation["assignedInboxTeam"]["name"] == "Support" and conversation["inbox"]["name"] == ODD
    assert conversation["additionalAttributes"]["ü"] == ODD
    nothing = next(c for c in body["data"] if c["firstName"] == "Nothing")
    assert nothing["conversation"] is None and nothing["tags"] == [] and nothing["contactInboxes"] == []

    for per_page, page in ((3, 1), (3, 2), (3, 3), (3, 4), (1, 1), (1, 8), (2, 3)):
        await _same_bytes(tenant, {"perPage": per_page, "page": page})
    for key in service.SORTABLE:
        for desc in (False, True):
            sort = json.dumps([{"id": key, "desc": desc}])
            await _same_bytes(tenant, {"perPage": 5, "page": 2, "sort": sort})
    await _same_bytes(tenant, {"sort": json.dumps([{"id": "country"}, {"id": "firstName", "desc": True}])})
    for keyword in ("full@", "i", "nobody"):
        await _same_bytes(tenant, {"keyword": keyword})
    await _same_bytes(tenant, {"keyword": "i", "perPage": 2, "page": 2})
    await _same_bytes(tenant, {"keyword": "i", "sort": json.dumps([{"id": "firstName"}])})
    country = {"operator": "and", "conditions": [{"field": "country", "operator": "in", "value": ["VN"]}]}
    await _same_bytes(tenant, {"contactFilter": json.dumps(country)})
    await _same_bytes(tenant, {"channels": ["telegram"], "perPage": 1, "page": 2})
    assert (await _same_bytes(tenant, {"channels": ["telegram"]}))["pageCount"] == 1


# PostgreSQL's ways of finding a keyword's page (service._keyword_page), forced (tests/contacts/test_service
# checks each is taken); on SQLite the keyword is a filter like any other.
KEYWORD_WAYS = {
    "few": {},
    "walk": {"FEW_ESTIMATE": 0},
    "sorted": {"FEW_ESTIMATE": 0, "WALK_ROWS": 0},
}


@pytest.mark.parametrize("way", list(KEYWORD_WAYS))
async def test_keyword_pages_bytes_equal_contacts_out(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    for name, value in KEYWORD_WAYS[way].items():
        monkeypatch.setattr(service, name, value)
    await _seed(int(tenant.workspace_id))
    # "i": the rich contact, the tie and the fillers; "tie": one contact.
    for keyword in ("i", "tie", "full@"):
        for per_page, page in ((50, 1), (2, 1), (2, 2), (2, 4), (2, 9)):
            await _same_bytes(tenant, {"keyword": keyword, "perPage": per_page, "page": page})


async def test_a_page_past_the_end_still_counts(tenant: Tenant) -> None:
    await helpers.add(*(Contact(workspace_id=int(tenant.workspace_id), first_name=f"c{i}") for i in range(3)))
    body = await _same_bytes(tenant, {"perPage": 2, "page": 5})
    assert body == {"data": [], "pageCount": 2}
    assert (await _same_bytes(tenant, {"perPage": 2, "page": 5, "keyword": "c"}))["pageCount"] == 2
    sort = json.dumps([{"id": "firstName"}])
    assert (await _same_bytes(tenant, {"perPage": 2, "page": 5, "sort": sort}))["pageCount"] == 2


async def test_empty_workspace(tenant: Tenant) -> None:
    assert await _same_bytes(tenant, {}) == {"data": [], "pageCount": 0}
    assert await _same_bytes(tenant, {"keyword": "x"}) == {"data": [], "pageCount": 0}


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
        await _same_bytes(tenant, {"perPage": per_page, "page": page})


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


async def test_other_pages_take_a_fixed_number_of_statements(tenant: Tenant) -> None:
    """A filtered or sorted page: its ids (and total), then its contacts as the plain list reads them;
    PostgreSQL's keyword first asks the planner's estimate (and may count first: test_service)."""
    await _seed(int(tenant.workspace_id))
    await tenant.client.get(BASE + "?perPage=1")  # the token is resolved and cached
    postgres = db.get_database().engine.dialect.name == "postgresql"
    sort = json.dumps([{"id": "firstName"}])
    vn = {"field": "country", "operator": "eq", "value": "VN"}
    country = json.dumps({"operator": "and", "conditions": [vn]})
    # PostgreSQL: custom plans for a filter (a keyword: then the planner's estimate), the ids, a generic plan
    # for the read, the read. SQLite: the ids, the read's seven.
    expected = {
        "sort": 3 if postgres else 8,
        "keyword": 5 if postgres else 8,
        "contactFilter": 4 if postgres else 8,
        "channels": 4 if postgres else 8,
    }
    pages = (("sort", sort), ("keyword", "i"), ("contactFilter", country), ("channels", "telegram"))
    for name, value in pages:
        for per_page in (1, 2, 50):
            with statements_of_this_task() as statements:
                response = await tenant.client.get(BASE, params={name: value, "perPage": per_page})
            assert response.status_code == 200 and response.json()["data"], response.text
            assert len(statements) == expected[name], (name, per_page, statements)


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
    monkeypatch.setattr(plain_list, "PG_IDS_SQL", "SELECT no_such_column")
    for query in ("?perPage=5", "?perPage=5&keyword=one"):
        with contextlib.suppress(Exception):  # the ASGI transport re-raises the server's error
            response = await tenant.client.get(BASE + query)
            assert response.status_code == 500
    monkeypatch.undo()
    for _ in range(3):
        assert await _names(tenant, "?perPage=5") == ["one"]
        assert await _names(tenant, "?perPage=5&keyword=one") == ["one"]


def test_the_workspace_id_is_the_only_varying_part() -> None:
    parts = plain_list.pg_sql(50, 100)
    assert len(parts) == 3  # the page and the total
    assert "LIMIT 50 OFFSET 100" in "".join(parts)
    assert "?" not in plain_list.sqlite_page_sql(50, 100).replace("workspace_id = ?", "")
    assert all(sql.count("?") == 3 for sql in plain_list.sqlite_nested_sql(3))  # the page's ids
    assert plain_list.SQLITE_TAGS_SQL.count("?") == 1  # the page's tag ids, as a JSON array


async def test_plain_list_fast_path_answers_like_the_declared_endpoint(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list with only page/perPage skips FastAPI's parameter machinery; it must not change any answer."""
    await _seed(int(tenant.workspace_id))
    fast_calls = []
    original = plain_list.list_page

    async def spy(*args: Any) -> Any:
        fast_calls.append(args)
        return await original(*args)

    monkeypatch.setattr(plain_list, "list_page", spy)
    cases = [
        "",
        "?page=2&perPage=3",
        "?perPage=03&page=002",
        "?perPage=500",
        "?page=99&perPage=3",
        "?page=9007199254740991",
        "?perPage=2&unknown=1",
        "?page=1&page=2&perPage=2",
    ]
    for query in cases:
        fast = await tenant.client.get(BASE + query)
        # An empty keyword filters nothing but takes the declared endpoint.
        declared = await tenant.client.get(BASE + query + ("&" if query else "?") + "keyword=")
        assert fast.status_code == declared.status_code == 200, (query, fast.text)
        # The same bytes (both are contacts_out's, see test_bytes_equal_contacts_out).
        assert fast.content == declared.content, query
        assert fast.headers["content-type"] == declared.headers["content-type"]
    assert len(fast_calls) == len(cases)

    fast_calls.clear()
    bad = [
        "?page=0",
        "?perPage=0",
        "?page=x",
        "?page=-1",
        "?page=%D9%A3",
        "?page=9007199254740992",
    ]
    for query in bad:
        response = await tenant.client.get(BASE + query)
        assert response.status_code == 422, (query, response.text)
        assert response.json()["code"] and response.json()["data"]["errors"]
    # Odd but valid for the declared parameter: answered by the declared endpoint, as before.
    assert (await tenant.client.get(BASE + "?page=1.0")).status_code == 200
    assert fast_calls == []


async def test_fast_path_keeps_auth_and_scopes(tenant: Tenant, anon: httpx.AsyncClient) -> None:
    assert (await anon.get(BASE + "?perPage=5")).status_code == 401
    async with db.get_database().sessionmaker() as session:
        _token_row, token = await create_token(session, int(tenant.workspace_id), ["tags.list"])
        await db.commit(session)
    response = await anon.get(BASE + "?perPage=5", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.json()["data"]["scope"] == "contacts.list"
    async with db.get_database().sessionmaker() as session:
        _token_row, token = await create_token(session, int(tenant.workspace_id), ["contacts.list"])
        await db.commit(session)
    response = await anon.get(BASE + "?perPage=5", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json() == {"data": [], "pageCount": 0}
