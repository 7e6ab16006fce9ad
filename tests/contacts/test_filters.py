"""contactFilter on the contacts list: each field with a matching and a non-matching contact; errors."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.contacts import helpers

BASE = "/api/v1/contacts"


async def names(api: httpx.AsyncClient, contact_filter: Any, **params: Any) -> set[str]:
    raw = contact_filter if isinstance(contact_filter, str) else json.dumps(contact_filter)
    response = await api.get(BASE, params={"contactFilter": raw, "perPage": 50, **params})
    assert response.status_code == 200, (contact_filter, response.text)
    return {c["firstName"] or "C" for c in response.json()["data"]}


def one(field: str, operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "operator": "and",
        "conditions": [{"field": field, "operator": operator, "value": value, **extra}],
    }


class World:
    """Three contacts: A (has everything), B (the opposite), C (empty)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.fields: dict[str, int] = {}
        self.tags: dict[str, int] = {}
        self.flow_id = 0


async def build(tenant: Tenant) -> World:
    ws = tenant.workspace_id
    world = World()
    now = dt.datetime.now(dt.UTC)
    a = await helpers.contact(
        ws,
        first_name="Ann",
        last_name="Lee",
        email="ann@corp.com",
        phone_number="+84901234567",
        country="VN",
        gender="female",
        locale="vi_VN",
        source="import",
        broadcast_subscribed_at=now,
        last_interaction_at=now - dt.timedelta(hours=1),
        archived_at=now,
        blocked_at=now,
    )
    b = await helpers.contact(
        ws,
        first_name="Bob",
        last_name="Ng",
        email="bob@mail.com",
        phone_number="+14155550100",
        country="US",
        gender="male",
        locale="en_US",
        source="api",
        created_at=now - dt.timedelta(days=3),
        last_interaction_at=now - dt.timedelta(days=3),
    )
    c = await helpers.contact(ws)
    world.ids = {"A": a.id, "B": b.id, "C": c.id}
    world.tags["vip"] = (await helpers.tag(ws, "vip", a.id)).id
    world.tags["other"] = (await helpers.tag(ws, "other", b.id)).id
    for name, type_ in (
        ("score", "number"),
        ("birthday", "date"),
        ("member", "boolean"),
        ("nick", "shortText"),
    ):
        world.fields[name] = (await helpers.custom_field(ws, name, type_)).id
    for contact_id, values in (
        (a.id, {"score": "42", "birthday": "1990-05-01", "member": "true", "nick": "Annie"}),
        (b.id, {"score": "7", "birthday": "2001-01-01", "member": "false", "nick": "Bobby"}),
    ):
        for name, value in values.items():
            await helpers.field_value(contact_id, world.fields[name], value)
    whatsapp = await helpers.inbox(ws, "whatsapp")
    telegram = await helpers.inbox(ws, "telegram")
    await helpers.conversation(ws, a.id, inbox_id=telegram.id, last_activity_at=now - dt.timedelta(days=1))
    await helpers.conversation(
        ws, a.id, inbox_id=whatsapp.id, last_activity_at=now, transferred_to_human_at=now
    )
    await helpers.conversation(ws, b.id, inbox_id=telegram.id, last_activity_at=now)
    world.flow_id = (await helpers.flow_run(ws, a.id)).id
    return world


def day(days_ago: int) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).date().isoformat()


def cases(w: World) -> list[tuple[dict[str, Any], set[str]]]:
    f = w.fields
    return [
        (one("fullName", "contains", "ann l"), {"Ann"}),
        (one("fullName", "notContains", "ann"), {"Bob", "C"}),
        (one("fullName", "eq", "BOB NG"), {"Bob"}),
        (one("fullName", "isEmpty"), {"C"}),
        (one("country", "in", ["vn"]), {"Ann"}),
        (one("country", "notIn", ["VN"]), {"Bob", "C"}),
        (one("country", "isNotEmpty"), {"Ann", "Bob"}),
        (one("continent", "eq", "AS"), {"Ann"}),
        (one("continent", "in", ["North America", "EU"]), {"Bob"}),
        (one("continent", "ne", "asia"), {"Bob", "C"}),
        (one("continent", "isEmpty"), {"C"}),
        (one("gender", "eq", "female"), {"Ann"}),
        (one("gender", "ne", "female"), {"Bob", "C"}),
        (one("subscribedToBroadcast", "eq", True), {"Ann"}),
        (one("subscribedToBroadcast", "eq", "false"), {"Bob", "C"}),
        (one("contactCreatedAt", "gt", day(2)), {"Ann", "C"}),
        (one("contactCreatedAt", "isBetween", [day(5), day(2)]), {"Bob"}),
        (one("contactCreatedAt", "notBetween", [day(5), day(2)]), {"Ann", "C"}),
        (one("contactCreatedAt", "lt", dt.datetime.now(dt.UTC).isoformat()), {"Ann", "Bob", "C"}),
        (one("contactCreatedDateMinutesAgo", "lt", 60), {"Ann", "C"}),
        (one("contactCreatedDateMinutesAgo", "gt", 60), {"Bob"}),
        (one("contactCreatedDateMinutesAgo", "isBetween", [60, 10_000]), {"Bob"}),
        (one("source", "eq", "import"), {"Ann"}),
        (one("source", "in", ["api"]), {"Bob"}),
        (one("conversationTransferredToHuman", "eq", True), {"Ann"}),
        (one("conversationTransferredToHuman", "ne", True), {"Bob", "C"}),
        (one("interactedInLast24h", "eq", True), {"Ann"}),
        (one("interactedInLast24h", "eq", False), {"Bob", "C"}),
        (one("archived", "eq", True), {"Ann"}),
        (one("archived", "eq", False), {"Bob", "C"}),
        (one("blocked", "eq", True), {"Ann"}),
        (one("blocked", "ne", True), {"Bob", "C"}),
        (one("existingContact", "in", [str(w.ids["A"])]), {"Ann"}),
        (one("existingContact", "notIn", [w.ids["A"]]), {"Bob", "C"}),
        (one("currentChannel", "eq", "whatsapp"), {"Ann"}),
        (one("currentChannel", "in", ["telegram"]), {"Bob"}),
        (one("currentChannel", "notIn", ["whatsapp"]), {"Bob", "C"}),
        (one("currentChannel", "isEmpty"), {"C"}),
        (one("email", "endsWith", "@CORP.com"), {"Ann"}),
        (one("email", "startsWith", "bob"), {"Bob"}),
        (one("email", "isEmpty"), {"C"}),
        (one("phone", "startsWith", "+84"), {"Ann"}),
        (one("phone", "eq", "+1 415 555 0100"), {"Bob"}),
        (one("tags", "in", [str(w.tags["vip"])]), {"Ann"}),
        (one("tags", "in", ["other"]), {"Bob"}),
        (one("tags", "notIn", ["vip"]), {"Bob", "C"}),
        (one("tags", "eq", "vip"), {"Ann"}),
        (one("tags", "isEmpty"), {"C"}),
        (one("tags", "isNotEmpty"), {"Ann", "Bob"}),
        (one("customFields", "gt", 10, customFieldId=str(f["score"])), {"Ann"}),
        (one("customFields", "lte", "7", customFieldId=f["score"]), {"Bob"}),
        (one("customFields", "isBetween", [5, 50], customFieldId=f["score"]), {"Ann", "Bob"}),
        (one("customFields", "ne", 42, customFieldId=f["score"]), {"Bob", "C"}),
        (one("customFields", "isEmpty", customFieldId=f["score"]), {"C"}),
        (
            one("customFields", "isBetween", ["1985-01-01", "1995-12-31"], customFieldId=f["birthday"]),
            {"Ann"},
        ),
        (one("customFields", "gt", "2000-01-01", customFieldId=f["birthday"]), {"Bob"}),
        (one("customFields", "eq", True, customFieldId=f["member"]), {"Ann"}),
        (one("customFields", "eq", "no", customFieldId=f["member"]), {"Bob"}),
        (one("customFields", "contains", "NNI", customFieldId=f["nick"]), {"Ann"}),
        (one("customFields", "notContains", "ann", customFieldId=f["nick"]), {"Bob", "C"}),
        (one("customFields", "in", ["bobby", "nobody"], customFieldId=f["nick"]), {"Bob"}),
        (one("executedFlow", "eq", str(w.flow_id)), {"Ann"}),
        (one("executedFlow", "isEmpty"), {"Bob", "C"}),
        (one("locale", "startsWith", "vi"), {"Ann"}),
        (one("locale", "eq", "en_us"), {"Bob"}),
        # Groups: "or", nesting, and an empty filter.
        (
            {
                "operator": "or",
                "conditions": [
                    {"field": "gender", "operator": "eq", "value": "female"},
                    {"field": "country", "operator": "eq", "value": "US"},
                ],
            },
            {"Ann", "Bob"},
        ),
        (
            {
                "operator": "and",
                "conditions": [
                    {"field": "tags", "operator": "isNotEmpty"},
                    {
                        "operator": "or",
                        "conditions": [
                            {"field": "locale", "operator": "startsWith", "value": "en"},
                            {"field": "blocked", "operator": "eq", "value": False},
                        ],
                    },
                ],
            },
            {"Bob"},
        ),
        ({"operator": "and", "conditions": []}, {"Ann", "Bob", "C"}),
    ]


async def test_every_field_matches_and_excludes(tenant: Tenant) -> None:
    world = await build(tenant)
    all_cases = cases(world)
    fields = {
        c["conditions"][0]["field"] for c, _ in all_cases if c["conditions"] and "field" in c["conditions"][0]
    }
    from chatbotx.contacts.filters import FIELD_KINDS

    assert fields == set(FIELD_KINDS), set(FIELD_KINDS) - fields
    for contact_filter, expected in all_cases:
        assert await names(tenant.client, contact_filter) == expected, contact_filter


async def test_filter_and_page_count_agree(tenant: Tenant) -> None:
    await build(tenant)
    raw = json.dumps(one("country", "isNotEmpty"))
    response = await tenant.client.get(BASE, params={"contactFilter": raw, "perPage": 1})
    assert response.json()["pageCount"] == 2
    response = await tenant.client.get(BASE, params={"contactFilter": raw, "perPage": 1, "keyword": "bob"})
    assert response.json()["pageCount"] == 1


@pytest.mark.parametrize(
    ("contact_filter", "field"),
    [
        ("{not json", "contactFilter"),
        ("[1, 2]", "contactFilter"),
        ({"operator": "xor", "conditions": []}, "contactFilter.operator"),
        ({"conditions": "x"}, "contactFilter.conditions"),
        ({"conditions": [], "extra": 1}, "contactFilter"),
        ({"conditions": [42]}, "contactFilter.conditions[0]"),
        (one("shoeSize", "eq", 1), "contactFilter.conditions[0].field"),
        (one("fullName", "like", "x"), "contactFilter.conditions[0].operator"),
        (one("fullName", "gt", "x"), "contactFilter.conditions[0].operator"),
        (one("blocked", "contains", "x"), "contactFilter.conditions[0].operator"),
        (one("tags", "lt", 1), "contactFilter.conditions[0].operator"),
        (one("blocked", "eq", "maybe"), "contactFilter.conditions[0].value"),
        (one("fullName", "contains", ""), "contactFilter.conditions[0].value"),
        (one("fullName", "in", []), "contactFilter.conditions[0].value"),
        (one("continent", "eq", "Atlantis"), "contactFilter.conditions[0].value"),
        (one("currentChannel", "eq", "fax"), "contactFilter.conditions[0].value"),
        (one("contactCreatedAt", "gt", "yesterday"), "contactFilter.conditions[0].value"),
        (one("contactCreatedAt", "isBetween", ["2024-01-01"]), "contactFilter.conditions[0].value"),
        (one("contactCreatedDateMinutesAgo", "lt", "soon"), "contactFilter.conditions[0].value"),
        (one("contactCreatedDateMinutesAgo", "lt", -5), "contactFilter.conditions[0].value"),
        (one("existingContact", "in", ["abc"]), "contactFilter.conditions[0].value"),
        (one("executedFlow", "eq", [1, 2]), "contactFilter.conditions[0].value"),
        (one("customFields", "eq", 1), "contactFilter.conditions[0].customFieldId"),
        (one("customFields", "eq", 1, customFieldId="123"), "contactFilter"),
    ],
)
async def test_bad_filters_are_422_naming_the_part(tenant: Tenant, contact_filter: Any, field: str) -> None:
    raw = contact_filter if isinstance(contact_filter, str) else json.dumps(contact_filter)
    response = await tenant.client.get(BASE, params={"contactFilter": raw})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "INVALID_REQUEST_DATA"
    assert body["data"]["errors"][0]["field"] == field, body


async def test_custom_field_type_checks_value_and_operator(tenant: Tenant) -> None:
    world = await build(tenant)
    score, member = world.fields["score"], world.fields["member"]
    for contact_filter, key in (
        (one("customFields", "gt", "lots", customFieldId=score), "value"),
        (one("customFields", "contains", "4", customFieldId=score), "operator"),
        (one("customFields", "gt", True, customFieldId=member), "operator"),
        (one("customFields", "eq", "perhaps", customFieldId=member), "value"),
    ):
        response = await tenant.client.get(BASE, params={"contactFilter": json.dumps(contact_filter)})
        assert response.status_code == 422, response.text
        assert response.json()["data"]["errors"][0]["field"] == f"contactFilter.conditions[0].{key}"


async def test_another_workspace_custom_field_or_tag_matches_nothing(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await build(tenant)
    theirs = await helpers.custom_field(other_tenant.workspace_id, "score", "number")
    response = await tenant.client.get(
        BASE, params={"contactFilter": json.dumps(one("customFields", "gt", 0, customFieldId=theirs.id))}
    )
    assert response.status_code == 422
    their_tag = await helpers.tag(other_tenant.workspace_id, "vip")
    assert await names(tenant.client, one("tags", "in", [str(their_tag.id)])) == set()


def test_filter_clause_is_usable_without_a_session() -> None:
    """The shared helper compiles on its own (conversations and broadcasts build on it)."""
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    from chatbotx.contacts.filters import contact_filter_clause, parse_contact_filter
    from chatbotx.models import Contact

    parsed = parse_contact_filter(json.dumps(one("customFields", "gt", 3, customFieldId="5")))
    assert parsed is not None
    stmt = select(Contact.id).where(contact_filter_clause(1, parsed))
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        assert "contact_custom_field" in str(stmt.compile(dialect=dialect))
    assert parse_contact_filter(None) is None and parse_contact_filter("  ") is None


@pytest.mark.parametrize(
    "contact_filter",
    [
        one("fullName", "eq", "a\x00b"),
        one("tags", "in", ["x\x00"]),
        one("contactCreatedAt", "gt", "9999-12-31"),
        one("contactCreatedAt", "lte", "9999-12-31T23:59:59.999999"),
        one("contactCreatedDateMinutesAgo", "gt", 1e300),
        one("contactCreatedDateMinutesAgo", "lt", "NaN"),
        one("existingContact", "in", [99999999999999999999999]),
        one("fullName", "eq", {"nested": True}),
        one("fullName", "in", [[1]]),
    ],
)
async def test_odd_values_are_422_never_500(tenant: Tenant, contact_filter: Any) -> None:
    response = await tenant.client.get(BASE, params={"contactFilter": json.dumps(contact_filter)})
    assert response.status_code == 422, response.text


async def test_odd_custom_field_values_are_422(tenant: Tenant) -> None:
    score = await helpers.custom_field(tenant.workspace_id, "score", "number")
    when = await helpers.custom_field(tenant.workspace_id, "when", "datetime")
    for contact_filter in (
        one("customFields", "gt", "1e400", customFieldId=score.id),
        one("customFields", "eq", "nope\x00", customFieldId=score.id),
        one("customFields", "gt", "9999-12-31T23:59:59-05:00", customFieldId=when.id),
    ):
        response = await tenant.client.get(BASE, params={"contactFilter": json.dumps(contact_filter)})
        assert response.status_code == 422, response.text
    # Huge stored numbers compare fine (no fixed precision in the cast).
    contact = await helpers.contact(tenant.workspace_id, first_name="Big")
    await helpers.field_value(contact.id, score.id, "1" + "0" * 40)
    assert await names(tenant.client, one("customFields", "gt", 5, customFieldId=score.id)) == {"Big"}


async def test_nul_characters_are_refused(tenant: Tenant) -> None:
    api = tenant.client
    assert (await api.get(BASE, params={"keyword": "a\x00"})).status_code == 422
    assert (await api.post(BASE, json={"firstName": "a\x00b"})).status_code == 422
    contact = (await api.post(BASE, json={"firstName": "ok"})).json()
    assert (await api.post(f"{BASE}/{contact['id']}/notes", json={"text": "\x00"})).status_code == 422
    field = await helpers.custom_field(tenant.workspace_id, "t", "shortText")
    response = await api.get(
        f"{BASE}/find-by-custom-field", params={"customFieldId": field.id, "value": "\x00"}
    )
    assert response.status_code == 422


async def keyword_names(api: httpx.AsyncClient, keyword: str) -> list[str | None]:
    response = await api.get(BASE, params={"keyword": keyword, "perPage": 50})
    assert response.status_code == 200, (keyword, response.text)
    return sorted(c["firstName"] for c in response.json()["data"])


async def test_keyword_matches_within_one_field(tenant: Tenant) -> None:
    """PostgreSQL searches the fields as one text joined by U+001F (migration 0007): a keyword must still
    match inside one field, as on SQLite, however it spans the joins."""
    ws = tenant.workspace_id
    await helpers.contact(
        ws, first_name="Ann", last_name="Lee", email="ann@corp.com", phone_number="+84901234567"
    )
    await helpers.contact(ws, first_name="Unit\x1fSep", last_name="Zed")
    api = tenant.client
    for keyword in ("ann\x1flee", "nn\x1fle", "lee\x1fann lee", "ann lee\x1fann@", "corp.com\x1f+8490"):
        assert await keyword_names(api, keyword) == [], repr(keyword)
    assert await keyword_names(api, "t\x1fs") == ["Unit\x1fSep"]  # the separator inside a field
    assert await keyword_names(api, "sep") == ["Unit\x1fSep"]
    assert await keyword_names(api, "lee") == ["Ann"]
    assert await keyword_names(api, "+84 901") == ["Ann"]
    assert await keyword_names(api, "zed") == ["Unit\x1fSep"]  # the full name made of both


async def test_keyword_sees_every_write(tenant: Tenant) -> None:
    """The search text follows updates made through the API (the database computes it)."""
    api = tenant.client
    created = (await api.post(BASE, json={"firstName": "Olga", "email": "olga@old.example"})).json()
    assert await keyword_names(api, "old.example") == ["Olga"]
    changes = {"firstName": "Vera", "email": "vera@new.example"}
    response = await api.put(f"{BASE}/{created['id']}", json=changes)
    assert response.status_code == 204, response.text
    assert await keyword_names(api, "old.example") == []
    assert await keyword_names(api, "olga") == []
    assert await keyword_names(api, "new.example") == ["Vera"]
    assert await keyword_names(api, "VERA") == ["Vera"]


async def test_text_filters_on_searched_fields_keep_their_meaning(tenant: Tenant) -> None:
    """email, phone and fullName conditions narrow through the search text on PostgreSQL, exactly."""
    ws = tenant.workspace_id
    await helpers.contact(
        ws, first_name="Ann", last_name="Lee", email="ann@corp.com", phone_number="+84901234567"
    )
    await helpers.contact(ws, first_name="Corp", last_name="Lee", email="50%_off@shop.com")
    api = tenant.client
    assert await names(api, one("email", "contains", "CORP")) == {"Ann"}
    assert await names(api, one("email", "startsWith", "corp")) == set()
    assert await names(api, one("email", "endsWith", "corp.com")) == {"Ann"}
    assert await names(api, one("email", "eq", "ANN@corp.com")) == {"Ann"}
    assert await names(api, one("email", "contains", "50%_")) == {"Corp"}
    assert await names(api, one("email", "contains", "0%")) == {"Corp"}
    assert await names(api, one("fullName", "startsWith", "corp")) == {"Corp"}
    assert await names(api, one("fullName", "contains", "lee")) == {"Ann", "Corp"}
    assert await names(api, one("phone", "contains", "849")) == {"Ann"}
    assert await names(api, one("phone", "eq", "+84 90 123 4567")) == {"Ann"}
    assert await names(api, one("email", "notContains", "corp")) == {"Corp"}


def test_postgresql_searches_the_search_text_and_sqlite_the_fields() -> None:
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    from chatbotx.contacts.filters import contact_filter_clause, keyword_clause
    from chatbotx.models import Contact

    for clause in (
        keyword_clause(1, "ann"),
        keyword_clause(1, "+84 90"),
        contact_filter_clause(1, one("email", "contains", "corp")),
        contact_filter_clause(1, one("fullName", "eq", "Ann Lee")),
    ):
        stmt = select(Contact.id).where(clause)
        assert "contact_search.search_text LIKE" in str(stmt.compile(dialect=postgresql.dialect()))
        assert "search_text" not in str(stmt.compile(dialect=sqlite.dialect()))
    # Only a keyword holding the separator also tests the fields themselves.
    pg = str(select(Contact.id).where(keyword_clause(1, "ann")).compile(dialect=postgresql.dialect()))
    assert "lower(contact.first_name)" not in pg
    pg = str(select(Contact.id).where(keyword_clause(1, "a\x1fb")).compile(dialect=postgresql.dialect()))
    assert "lower(contact.first_name)" in pg
