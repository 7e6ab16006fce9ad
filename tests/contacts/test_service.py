"""The keyword search (contacts.service.list_contacts, contacts.filters.keyword_clause): pages and pageCount
equal a plain reference computed here from every contact, on SQLite and PostgreSQL, through the ways of
finding the page (PostgreSQL: the count on contact_search, the walk of the newest contacts, the general
statement) and after writes made every way (API, bulk INSERT, COPY, raw UPDATE and DELETE)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update

from chatbotx.contacts import service
from chatbotx.kit import db
from chatbotx.kit.ids import new_id
from chatbotx.models import Contact
from tests.conftest import Tenant

BASE = "/api/v1/contacts"
KEYWORDS = (
    "ada",  # a common first name
    "ADA",
    "lovelace7",  # a last name (and the full name, email)
    "ada lov",  # across first and last name: only the full name holds it
    "ada.lovelace1",  # an email prefix
    "@corp.example",
    "5550001",  # phone digits
    "+1 555-000 12",  # a phone as typed
    "50%",  # LIKE's wildcards are literal
    "a_b",
    "jürg",  # not ASCII (SQLite lowers ASCII letters only)
    "zzz-nobody",
    "e",  # in nearly everything
)
FIRST = ("Ada", "Grace", "Linus", None, "Jürgen")
LAST = ("Lovelace", "Hopper", None, "Dijkstra")


def _people(workspace_id: int, start: int, count: int) -> Iterator[dict[str, Any]]:
    """Contacts with common and rare parts, missing ones, and full names that are not "first last"."""
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(start, start + count):
        first, last = FIRST[i % len(FIRST)], LAST[(i // 5) % len(LAST)]
        last = f"{last}{i}" if last else None
        full = " ".join(p for p in (first, last) if p) or None
        if i % 7 == 3:
            full = f"Dr {full or 'Nobody'}"  # a full name that holds more than the two names
        if i % 11 == 5:
            full = "50% a_b"
        yield {
            "id": new_id(),
            "workspace_id": workspace_id,
            # Every third contact is old: matches are not spread evenly over the newest contacts.
            "created_at": (created := base + dt.timedelta(minutes=i if i % 3 else -10_000 - i)),
            "updated_at": created,
            "first_name": first,
            "last_name": last,
            "full_name": full,
            "email": f"{(first or 'x').lower()}.{(last or 'y').lower()}@corp.example" if i % 4 else None,
            "phone_number": f"+1555{i:07d}" if i % 5 else None,
            "email_verified": False,
            "email_opt_in": True,
        }


def _matches(row: Any, keyword: str) -> bool:
    """The keyword's meaning, written plainly: contains, any case, in a field; phone-like input on digits."""
    needle = keyword.strip().lower()
    fields = (row.first_name, row.last_name, row.full_name, row.email, row.phone_number)
    if any(needle in (value or "").lower() for value in fields):
        return True
    digits = "".join(ch for ch in needle if ch.isdigit())
    phone_like = all(ch.isdigit() or ch in " +-()." for ch in needle)
    return len(digits) >= 3 and digits != needle and phone_like and digits in (row.phone_number or "")


async def _reference(workspace_id: int, keyword: str) -> list[str]:
    async with db.get_database().sessionmaker() as session:
        rows = (await session.execute(select(Contact).where(Contact.workspace_id == workspace_id))).scalars()
        found = [c for c in rows if _matches(c, keyword)]
    found.sort(key=lambda c: (c.created_at, c.id), reverse=True)
    return [str(c.id) for c in found]


async def _check(tenant: Tenant, keywords: tuple[str, ...] = KEYWORDS) -> None:
    for keyword in keywords:
        expected = await _reference(int(tenant.workspace_id), keyword)
        for per_page in (1, 4, 50):
            pages = max(1, math.ceil(len(expected) / per_page))
            for number in sorted({1, 2, pages, pages + 1}):
                response = await tenant.client.get(
                    BASE, params={"keyword": keyword, "perPage": per_page, "page": number}
                )
                assert response.status_code == 200, response.text
                body = response.json()
                where = (keyword, per_page, number)
                assert body["pageCount"] == math.ceil(len(expected) / per_page), where
                start = (number - 1) * per_page
                assert [c["id"] for c in body["data"]] == expected[start : start + per_page], where


async def _insert(rows: list[dict[str, Any]]) -> None:
    async with db.get_database().sessionmaker() as session:
        await session.execute(insert(Contact), rows)
        await db.commit(session)


async def _copy(rows: list[dict[str, Any]]) -> None:
    """COPY on PostgreSQL (as the CSV import writes), plain INSERT elsewhere."""
    async with db.get_database().sessionmaker() as session:
        conn = await session.connection()
        if conn.dialect.name != "postgresql":
            await session.execute(insert(Contact), rows)
        else:
            driver = (await conn.get_raw_connection()).driver_connection
            columns = list(rows[0])
            await driver.copy_records_to_table(  # type: ignore[union-attr]
                "contact", records=[tuple(r[c] for c in columns) for r in rows], columns=columns
            )
        await db.commit(session)


async def _execute(*statements: Any) -> None:
    async with db.get_database().sessionmaker() as session:
        for statement in statements:
            await session.execute(statement)
        await db.commit(session)


WAYS = {
    # On a few dozen contacts the estimate is always "few": one statement.
    "as planned": ({}, {"few"}),
    "over the cap": ({"FEW_ESTIMATE": math.inf, "FEW_CAP": 3}, {"few", "more than few", "walked"}),
    "count and walk": ({"FEW_ESTIMATE": 0}, {"walked", "empty"}),
    "count, never walk": ({"FEW_ESTIMATE": 0, "WALK_ROWS": 0}, {"sorted", "empty"}),
    "short walks": ({"FEW_ESTIMATE": 0, "WALK_SLACK": 0}, {"walked", "walk too short", "sorted", "empty"}),
}


@pytest.fixture(params=list(WAYS))
async def page_finding(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """PostgreSQL's ways of finding a keyword's page (service._keyword_page), each forced by its settings and
    seen taken: few matches in one statement (or more than its cap), the count then a walk of the newest
    contacts, or the matches sorted on contact_search (no walk, or walks too short to fill the page)."""
    settings, expected = WAYS[request.param]
    for name, value in settings.items():
        monkeypatch.setattr(service, name, value)
    taken: set[str] = set()

    def record(name: str, none: str, found: Callable[[tuple[list[int], int]], str]) -> None:
        original = getattr(service, name)

        async def recorded(*args: Any) -> tuple[list[int], int] | None:
            result = await original(*args)
            taken.add(none if result is None else found(result))
            return result

        monkeypatch.setattr(service, name, recorded)

    record("_keyword_page", "none", lambda result: "page" if result[0] else "empty")
    record("_sorted_page", "none", lambda result: "sorted")
    record("_few_page", "more than few", lambda result: "few")
    record("_walk_page", "walk too short", lambda result: "walked")
    yield str(request.param)
    async with db.get_database().sessionmaker() as session:
        pg = (await session.connection()).dialect.name == "postgresql"
    if pg:
        assert expected <= taken, taken
        assert "none" not in taken
    else:
        assert not taken


async def test_keyword_pages_and_counts_equal_the_reference(
    tenant: Tenant, other_tenant: Tenant, page_finding: str
) -> None:
    workspace_id = int(tenant.workspace_id)
    await _insert(list(_people(workspace_id, 0, 40)))
    await _copy(list(_people(workspace_id, 40, 40)))
    await _insert(list(_people(int(other_tenant.workspace_id), 0, 30)))  # never counted here
    for i in range(3):
        created = await tenant.client.post(
            BASE, json={"firstName": "Ada", "lastName": f"Api{i}", "phoneNumber": f"+1 555 000 12{i}9"}
        )
        assert created.status_code == 200, created.text
    await _check(tenant)


async def test_keyword_search_follows_updates_and_deletes(tenant: Tenant, page_finding: str) -> None:
    workspace_id = int(tenant.workspace_id)
    rows = list(_people(workspace_id, 0, 60))
    await _copy(rows)
    ids = [r["id"] for r in rows]
    # Through the API: rename, change email and phone, clear a name, delete.
    for contact_id, body in (
        (ids[0], {"firstName": "Zora", "lastName": "Neale"}),
        (ids[1], {"email": "renamed@else.example"}),
        (ids[2], {"phoneNumber": "+84 90 123 4567"}),
        (ids[3], {"lastName": ""}),
    ):
        response = await tenant.client.put(f"{BASE}/{contact_id}", json=body)
        assert response.status_code == 204, response.text
    assert (await tenant.client.delete(f"{BASE}/{ids[4]}")).status_code == 204
    # Straight to the database, one row and many: the triggers follow every write.
    await _execute(
        update(Contact).where(Contact.id == ids[5]).values(full_name="Completely Different"),
        update(Contact).where(Contact.id.in_(ids[10:30])).values(first_name="Grace"),
        update(Contact).where(Contact.id == ids[6]).values(email=None, phone_number=None),
        update(Contact).where(Contact.id.in_(ids[30:35])).values(locale="fr"),  # not searched
        # The newest of all now: the default order follows (contact_search keeps created_at too).
        update(Contact)
        .where(Contact.id.in_(ids[35:38]))
        .values(created_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
        delete(Contact).where(Contact.id.in_(ids[40:50])),
    )
    await _check(tenant, (*KEYWORDS, "zora neale", "renamed@else", "84901234567", "+84 90 123", "different"))


async def test_the_search_rows_equal_the_contacts(tenant: Tenant) -> None:
    """PostgreSQL: contact_search holds one row per contact with the text migration 0008 computes. SQLite has
    no such table (migration 0008 is PostgreSQL's: SQLite's keyword search reads contact itself)."""
    async with db.get_database().sessionmaker() as session:
        if (await session.connection()).dialect.name != "postgresql":
            names = await session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
            tables = set(names.all())
            assert "contact" in tables and "contact_search" not in tables
            return
    workspace_id = int(tenant.workspace_id)
    rows = list(_people(workspace_id, 0, 30))
    await _copy(rows)
    await _execute(
        update(Contact).where(Contact.id == rows[0]["id"]).values(last_name="Changed"),
        update(Contact)
        .where(Contact.id == rows[3]["id"])
        .values(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
        delete(Contact).where(Contact.id == rows[1]["id"]),
    )
    async with db.get_database().sessionmaker() as session:
        wrong = await session.scalar(
            text(
                "SELECT count(*) FROM contact c FULL JOIN contact_search s ON s.contact_id = c.id "
                "WHERE (c.workspace_id = :ws OR s.workspace_id = :ws) "
                "AND (c.id IS NULL OR s.contact_id IS NULL OR s.workspace_id <> c.workspace_id "
                "OR s.created_at <> c.created_at "
                "OR s.search_text <> "
                "contact_search_text(c.first_name, c.last_name, c.full_name, c.email, c.phone_number))"
            ),
            {"ws": workspace_id},
        )
        searched = await session.scalar(
            text("SELECT search_text FROM contact_search WHERE contact_id = :id"), {"id": rows[12]["id"]}
        )
    assert wrong == 0
    # Contact 12: "Linus" with no last name or email: the full name "Linus" stands for both names.
    assert searched == "linus\x1f\x1f+15550000012"
