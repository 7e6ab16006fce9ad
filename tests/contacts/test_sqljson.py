"""listContacts' database-built JSON (contacts.sqljson) equals the Python serializer's (contacts_out).

contacts_out + dumps_json is the reference (it still serves get/create/upsert, broadcasts and inbound).
Every kind of nested data, null and non-null, odd strings and whole-second timestamps, under each sort,
keyword, filter and page; the plain-list fast path against the declared endpoint; on SQLite and PostgreSQL.
"""

from __future__ import annotations

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
)
from chatbotx.workspaces.service import create_token
from tests.conftest import Tenant
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


async def _reference(workspace_id: int, params: dict[str, Any]) -> Any:
    """The page as the Python serializer renders it (the implementation before sqljson)."""
    query = service.ListQuery(
        sort=params.get("sort"),
        keyword=params.get("keyword"),
        contact_filter=parse_contact_filter(params.get("contactFilter")),
    )
    page = PageParams(page=params.get("page", 1), perPage=params.get("perPage", 20))
    async with db.get_database().sessionmaker() as session:
        order = parse_sort(query.sort, service.SORTABLE, service.DEFAULT_SORT)
        if order is not service.DEFAULT_SORT:
            order = [*order, Contact.id.desc()]
        clauses = await service.where_clauses(session, workspace_id, query)
        total = await service.count_contacts(session, workspace_id, clauses)
        stmt = select_contact_rows().where(*clauses).order_by(*order).limit(page.per_page).offset(page.offset)
        rows = (await session.execute(stmt)).all()
        data = await contacts_out(session, rows)
    return orjson.loads(dumps_json({"data": data, "pageCount": page.page_count(total)}))


async def _check(tenant: Tenant, params: dict[str, Any]) -> Any:
    response = await tenant.client.get(BASE, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == await _reference(int(tenant.workspace_id), params), params
    return body


async def test_database_json_equals_the_python_serializer(tenant: Tenant) -> None:
    await _seed(int(tenant.workspace_id))
    body = await _check(tenant, {"perPage": 50})
    assert len(body["data"]) == 8 and body["pageCount"] == 1
    full = next(c for c in body["data"] if c["email"] == "full@example.com")
    # The rich contact really carries every nested kind (so the equality above covers them).
    assert full["createdAt"] == "2025-01-02T03:04:05Z" and full["updatedAt"] == "2025-06-07T08:09:10.120000Z"
    assert [t["name"] for t in full["tags"]] == ["Alpha", "beta", "zeta"]
    assert len(full["contactCustomFields"]) == 2 and len(full["contactInboxes"]) == 2
    assert full["contactNotes"][0]["text"] == "newest"
    conversation = full["conversation"]
    assert (
        conversation["assignedUser"]["name"] == ODD and conversation["assignedInboxTeam"]["name"] == "Support"
    )
    assert conversation["inbox"]["name"] == ODD and conversation["additionalAttributes"]["ü"] == ODD
    nothing = next(c for c in body["data"] if c["firstName"] == "Nothing")
    assert nothing["conversation"] is None and nothing["tags"] == [] and nothing["contactInboxes"] == []

    for per_page, page in ((3, 1), (3, 2), (3, 3), (3, 4), (1, 8)):
        await _check(tenant, {"perPage": per_page, "page": page})
    for key in service.SORTABLE:
        for desc in (False, True):
            await _check(tenant, {"perPage": 5, "page": 2, "sort": json.dumps([{"id": key, "desc": desc}])})
    await _check(tenant, {"sort": json.dumps([{"id": "country"}, {"id": "firstName", "desc": True}])})
    await _check(tenant, {"keyword": "full@"})
    await _check(tenant, {"keyword": "nobody"})
    tagged = {"operator": "and", "conditions": [{"field": "country", "operator": "in", "value": ["VN"]}]}
    await _check(tenant, {"contactFilter": json.dumps(tagged)})


async def test_a_page_past_the_end_still_counts(tenant: Tenant) -> None:
    await helpers.add(*(Contact(workspace_id=int(tenant.workspace_id), first_name=f"c{i}") for i in range(3)))
    body = await _check(tenant, {"perPage": 2, "page": 5})
    assert body == {"data": [], "pageCount": 2}
    assert (await _check(tenant, {"perPage": 2, "page": 5, "keyword": "c"}))["pageCount"] == 2


async def test_empty_workspace(tenant: Tenant) -> None:
    assert await _check(tenant, {}) == {"data": [], "pageCount": 0}


def _ordered(content: bytes) -> Any:
    return json.loads(content, object_pairs_hook=list)


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
        # The same document, keys in the same order (the fast path's bytes are contacts_out's, see
        # test_plain_list; PostgreSQL's json_build_object spaces its output).
        assert _ordered(fast.content) == _ordered(declared.content), query
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
