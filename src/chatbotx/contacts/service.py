"""Contact logic: filtered lists, create/update/upsert (unique normalized email and phone), notes, block.

Every query is scoped to the workspace; nothing here commits (the request does).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic_core import to_jsonable_python
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from chatbotx.contacts import filters, plain_list
from chatbotx.contacts.identifiers import find_contact, parse_identifier, resolve_contact
from chatbotx.contacts.schemas import ContactNoteCreate, _ContactFields
from chatbotx.contacts.serialize import CONTACT_COLUMNS, contacts_out, select_contact_rows
from chatbotx.kit import events
from chatbotx.kit.db import utcnow
from chatbotx.kit.errors import Conflict, NotFound, invalid_field
from chatbotx.kit.fieldtypes import coerce_value
from chatbotx.kit.ids import parse_id
from chatbotx.kit.normalize import normalize_email, normalize_phone
from chatbotx.kit.pagination import PageParams, parse_sort
from chatbotx.models import Contact, ContactCustomField, ContactNote, CustomField

FIND_BY_CUSTOM_FIELD_LIMIT = 100

SORTABLE: dict[str, Any] = {
    "id": Contact.id,
    "createdAt": Contact.created_at,
    "updatedAt": Contact.updated_at,
    "firstName": Contact.first_name,
    "lastName": Contact.last_name,
    "fullName": Contact.full_name,
    "email": Contact.email,
    "phoneNumber": Contact.phone_number,
    "country": Contact.country,
    "locale": Contact.locale,
    "subscribedAt": Contact.subscribed_at,
    "broadcastSubscribedAt": Contact.broadcast_subscribed_at,
    "blockedAt": Contact.blocked_at,
    "lastReadAt": Contact.last_read_at,
}
DEFAULT_SORT: list[Any] = [Contact.created_at.desc(), Contact.id.desc()]

# Plain columns a create/update body sets directly (schema attribute -> model attribute are the same).
_PLAIN_FIELDS = (
    "first_name",
    "last_name",
    "gender",
    "avatar",
    "locale",
    "timezone",
    "country",
    "state",
    "city",
    "location",
    "ref",
    "source",
)


@dataclasses.dataclass(frozen=True, slots=True)
class ListQuery:
    """The listContacts query parameters, already parsed."""

    sort: str | None = None
    keyword: str | None = None
    contact_filter: Mapping[str, Any] | None = None
    channels: Sequence[str] = ()
    inbox_ids: Sequence[int] = ()


# ------------------------------------------------------------------------------------------------ list


async def custom_field_types(
    session: AsyncSession, workspace_id: int, contact_filter: Mapping[str, Any] | None
) -> dict[int, str]:
    """Types of the custom fields a filter names (one query); an unknown one is a 422."""
    ids = filters.custom_field_ids(contact_filter)
    if not ids:
        return {}
    rows = await session.execute(
        select(CustomField.id, CustomField.type).where(
            CustomField.workspace_id == workspace_id, CustomField.id.in_(ids)
        )
    )
    types = {row.id: row.type for row in rows}
    missing = sorted(ids - set(types))
    if missing:
        raise invalid_field(filters.PARAM, f"unknown custom field {missing[0]}")
    return types


async def where_clauses(
    session: AsyncSession, workspace_id: int, query: ListQuery
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [Contact.workspace_id == workspace_id]
    if query.keyword and query.keyword.strip():
        clauses.append(filters.keyword_clause(workspace_id, query.keyword))
    if query.contact_filter:
        types = await custom_field_types(session, workspace_id, query.contact_filter)
        clauses.append(
            filters.contact_filter_clause(workspace_id, query.contact_filter, custom_field_types=types)
        )
    if query.channels or query.inbox_ids:
        clauses.append(filters.channels_clause(workspace_id, query.channels, query.inbox_ids))
    return clauses


# Kept exact by database triggers (migration 0003): an unfiltered list reads it instead of counting rows.
contact_count = table("contact_count", column("workspace_id", BigInteger), column("n", BigInteger))


def _total_expr(
    workspace_id: int | ColumnElement[Any], clauses: list[ColumnElement[bool]]
) -> ColumnElement[Any]:
    """The exact number of contacts matching `clauses`, as a scalar subquery (see count_contacts)."""
    if len(clauses) == 1:
        return select(contact_count.c.n).where(contact_count.c.workspace_id == workspace_id).scalar_subquery()
    return select(func.count()).select_from(Contact).where(*clauses).scalar_subquery()


async def count_contacts(
    session: AsyncSession | AsyncConnection, workspace_id: int, clauses: list[ColumnElement[bool]]
) -> int:
    """The exact number of contacts matching `clauses` (the first is always the workspace's own)."""
    if len(clauses) == 1:
        stmt = select(contact_count.c.n).where(contact_count.c.workspace_id == workspace_id)
    else:
        stmt = select(func.count()).select_from(Contact).where(*clauses)
    return (await session.scalar(stmt)) or 0


CUSTOM_PLAN = "SET LOCAL plan_cache_mode = force_custom_plan"


async def list_contacts(
    session: AsyncSession, workspace_id: int, page: PageParams, query: ListQuery
) -> tuple[bytes, int]:
    """One page of full contacts as JSON array bytes, and the page count, both under the same filters.

    The page's ids are found with the total (one statement, two or three for PostgreSQL's keywords: see
    `_keyword_page`), then read and written as the plain list's are (plain_list.contacts_json: the same
    bytes as contacts_out's). Only a page past the end costs a second query for the total.
    """
    order = parse_sort(query.sort, SORTABLE, DEFAULT_SORT)
    if order is not DEFAULT_SORT:
        # A stable order across pages: ties broken by id.
        order = [*order, Contact.id.desc()]
    clauses = await where_clauses(session, workspace_id, query)
    conn = await session.connection()  # Core execution: the ORM layer adds nothing to a plain select
    ids: list[int] | None = None
    if conn.dialect.name == "postgresql" and len(clauses) > 1:
        # Filters and keywords carry patterns and values whose selectivity decides the plan. A prepared
        # statement's generic plan cannot see them and, at a million contacts, walks the created_at index
        # through every row for a rare keyword (0.8 s instead of 30 ms). This transaction only (the page's
        # contacts are then read with a generic plan: see plain_list.contacts_json).
        await conn.exec_driver_sql(CUSTOM_PLAN)
        keyword = filters.parse_keyword(query.keyword)
        only_keyword = not (query.contact_filter or query.channels or query.inbox_ids)
        if keyword is not None and only_keyword and order is DEFAULT_SORT and not keyword.spans_fields:
            ids, total = await _keyword_page(conn, workspace_id, page, keyword)
    if ids is None:
        rows = (await conn.execute(_page_ids(workspace_id, clauses, order, page))).all()
        ids = [row.id for row in rows]
        if rows:
            total = rows[0].total or 0
        else:
            total = await count_contacts(session, workspace_id, clauses)
    return await plain_list.contacts_json(conn, workspace_id, ids), page.page_count(total)


def _page_ids(
    workspace_id: int, clauses: list[ColumnElement[bool]], order: Sequence[Any], page: PageParams
) -> Select[Any]:
    """Rows of (total, id) for the page's contacts, in the page's order; no rows past the end.

    A filtered list finds its matches once (a materialized CTE of their ids and sort keys) and takes both
    the exact total and the page from them: the exact total reads every match anyway; and without the
    fence, ORDER BY created_at LIMIT n over a keyword tempts PostgreSQL into walking the created_at index
    past every contact when a rare keyword's estimate is off (0.7 s at a million contacts instead of the
    trigram indexes' 30 ms). An unfiltered list (a sort) reads its total from contact_count."""
    if len(clauses) == 1:
        total = _total_expr(workspace_id, clauses)
        return (
            select(total.label("total"), Contact.id)
            .where(*clauses)
            .order_by(*order)
            .limit(page.per_page)
            .offset(page.offset)
        )
    keys: dict[str, Any] = {"id": Contact.id}
    for clause in order:
        element = clause.element if isinstance(clause, UnaryExpression) else clause
        keys.setdefault(str(element.key), element)
    matches = select(*keys.values()).where(*clauses).cte("m")
    matches = matches.prefix_with("MATERIALIZED", dialect="postgresql")
    counted = select(func.count()).select_from(matches).scalar_subquery()
    return (
        select(counted.label("total"), literal_column("m.id").label("id"))
        .select_from(matches)
        .order_by(*(_on(matches, clause) for clause in order))
        .limit(page.per_page)
        .offset(page.offset)
    )


def _on(cte: Any, clause: Any) -> ColumnElement[Any]:
    """`clause` (a contact column, ascending or descending) on the CTE's column of the same name.

    Written as text: the CTE's column collection (or a ClauseAdapter) costs ~1 ms a request to build."""
    desc = isinstance(clause, UnaryExpression) and clause.modifier is operators.desc_op
    element = clause.element if isinstance(clause, UnaryExpression) else clause
    target: ColumnElement[Any] = literal_column(f"{cte.name}.{element.key}")
    return target.desc() if desc else target


# ------------------------------------------------------------------------------------ keyword search (PG)

# Below this many matches in the planner's estimate, a keyword is looked up in one statement that finds the
# matches once (up to FEW_CAP of them) and takes both the total and the page from them.
FEW_ESTIMATE = 2_000
FEW_CAP = 5_000
# The newest contacts are walked for the page (created_at order, checking each one) when about this many
# rows are expected to hold it; beyond WALK_SLACK times that the walk gives up for the matches' own sort.
WALK_ROWS = 2_000
WALK_SLACK = 4
# (No parallel workers: on a common keyword's count, a tenth of a million contacts, PostgreSQL's parallel
# bitmap scan took 46-66 ms where the serial one takes 29-34: the leader builds the bitmap alone, then starts
# the workers. The same for the sort of many matches. docs/benchmarks.md, keyword_search.)

# The bound parameters of the keyword statements, beside the keyword's own (filters.Keyword.params).
_WORKSPACE, _LIMIT, _OFFSET = "workspace_id", "page_limit", "page_offset"
_CAP, _BOUND = "few_cap", "walk_bound"  # FEW_CAP + 1, and the newest contacts walked


@dataclasses.dataclass(frozen=True, slots=True)
class _KeywordStatements:
    """The statements of `_keyword_page` (each finding the page's ids), built once for keywords with or
    without phone digits (their conditions differ in shape only) and run with each request's values as
    parameters: building them (column collections, a few CTEs) cost more of the server's CPU than
    PostgreSQL's answer to a rare keyword.
    """

    estimate: str  # EXPLAIN of the matching ids, as driver SQL
    estimate_params: tuple[str, ...]  # ... and the names of its positional parameters
    few: Select[Any]
    count: Select[Any]
    walk: Select[Any]
    sorted: Select[Any]


@functools.cache
def _keyword_statements(dialect: Any, digits: bool) -> _KeywordStatements:
    cs = filters.contact_search
    keyword = filters.Keyword("k", "k", "0" if digits else None)  # values come with each request
    workspace_id = bindparam(_WORKSPACE, type_=BigInteger())
    limit, offset = bindparam(_LIMIT, type_=Integer()), bindparam(_OFFSET, type_=Integer())
    matching = (cs.c.workspace_id == workspace_id, keyword.on_search_text())

    ids = select(cs.c.contact_id).where(*matching)
    compiled = ids.compile(dialect=dialect)

    # few: the matches found once (capped), their total, and the page's ids among them.
    matches = (
        select(cs.c.contact_id.label("id"), cs.c.created_at)
        .where(*matching)
        .limit(bindparam(_CAP, type_=Integer()))
        .cte("m")
        .prefix_with("MATERIALIZED")
    )
    total = select(func.count()).select_from(matches).scalar_subquery()
    few = (
        select(total.label("total"), matches.c.id)
        .order_by(matches.c.created_at.desc(), matches.c.id.desc())
        .limit(limit)
        .offset(offset)
    )

    # count: the exact total beside the workspace's size.
    size = select(contact_count.c.n).where(contact_count.c.workspace_id == workspace_id).scalar_subquery()
    count = select(func.count().label("total"), size.label("size")).where(*matching)

    # walk: the page among the `bound` newest contacts, checked on their own columns.
    newest = (
        select(*CONTACT_COLUMNS)
        .where(Contact.workspace_id == workspace_id)
        .order_by(*DEFAULT_SORT)
        .limit(bindparam(_BOUND, type_=Integer()))
        .subquery("newest")
    )
    walk = (
        select(newest.c.id)
        .where(keyword.on_columns(newest.c))
        .order_by(newest.c.created_at.desc(), newest.c.id.desc())
        .limit(limit)
        .offset(offset)
    )

    # sorted: the page of the matches sorted on contact_search alone.
    sorted_ids = (
        select(cs.c.contact_id.label("id"))
        .where(*matching)
        .order_by(cs.c.created_at.desc(), cs.c.contact_id.desc())
        .limit(limit)
        .offset(offset)
    )
    return _KeywordStatements(
        estimate="EXPLAIN (FORMAT JSON) " + str(compiled),
        estimate_params=tuple(compiled.positiontup or ()),
        few=few,
        count=count,
        walk=walk,
        sorted=sorted_ids,
    )


async def _keyword_page(
    conn: AsyncConnection, workspace_id: int, page: PageParams, keyword: filters.Keyword
) -> tuple[list[int], int]:
    """The ids of a keyword's page in the default order and the exact total.

    Every way reads the trigram index once or twice (a phone's digits share trigrams with every phone: a
    read can cost tens of milliseconds), and a common keyword's exact count rechecks every match (a tenth of
    a million contacts: 100,000 rows of contact_search). So the planner's estimate of the matches picks:
    - few: one statement finds them (capped), with the contact's sort keys, and takes the total and the page;
    - many (or more than the cap after all): the exact total alone first, from contact_search (migration
      0008), beside the workspace's size. A keyword matching nothing, or a page past the end, needs nothing
      more. Else the page is found by walking the newest contacts until it is full: about
      (offset + perPage) * size / total rows (a keyword held by a tenth of the contacts: 200 rows for the
      first page), bounded, checked on the contact's own columns. A rarer keyword than that (or a deep
      page), or a walk that met fewer matches than expected (matches bunched among old contacts): the
      matches are sorted by contact_search's own created_at.
    """
    statements = _keyword_statements(conn.dialect, keyword.digits is not None)
    params: dict[str, Any] = {
        _WORKSPACE: workspace_id,
        _LIMIT: page.per_page,
        _OFFSET: page.offset,
        _CAP: FEW_CAP + 1,
        **keyword.params(),
    }
    if await _estimate(conn, statements, params) < FEW_ESTIMATE:
        found = await _few_page(conn, page, statements, params)
        if found is not None:
            return found
    counted = (await conn.execute(statements.count, params)).one()
    total, size = int(counted.total), int(counted.size or 0)
    wanted = min(page.per_page, total - page.offset)
    if wanted <= 0:
        return [], total
    expected = (page.offset + wanted) * max(size, total) / total
    if expected <= WALK_ROWS:
        params[_BOUND] = int(expected * WALK_SLACK) + page.per_page
        found = await _walk_page(conn, page, statements, params, total)
        if found is not None:
            return found
    return await _sorted_page(conn, statements, params, total)


async def _estimate(
    conn: AsyncConnection, statements: _KeywordStatements, params: Mapping[str, Any]
) -> float:
    """The planner's estimate of the keyword's matches (planning only, nothing is read)."""
    values = tuple(params[name] for name in statements.estimate_params)
    plan = (await conn.exec_driver_sql(statements.estimate, values)).scalar_one()
    if isinstance(plan, str):
        plan = orjson.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


async def _few_page(
    conn: AsyncConnection, page: PageParams, statements: _KeywordStatements, params: Mapping[str, Any]
) -> tuple[list[int], int] | None:
    """The page's ids and the total from the matches found once, or None when there are more than FEW_CAP
    (or a page after the first is empty: past the end, where the total is not read)."""
    rows = (await conn.execute(statements.few, params)).all()
    if not rows:
        # The first page is empty only when nothing matches; a later one may be past the end.
        return ([], 0) if page.offset == 0 else None
    if rows[0].total > FEW_CAP:
        return None
    return [row.id for row in rows], rows[0].total


async def _walk_page(
    conn: AsyncConnection,
    page: PageParams,
    statements: _KeywordStatements,
    params: Mapping[str, Any],
    total: int,
) -> tuple[list[int], int] | None:
    """The page's ids found among the newest contacts (params' walk bound), or None when they do not hold
    all of it."""
    ids = list((await conn.execute(statements.walk, params)).scalars())
    if len(ids) < min(page.per_page, total - page.offset):
        return None
    return ids, total


async def _sorted_page(
    conn: AsyncConnection, statements: _KeywordStatements, params: Mapping[str, Any], total: int
) -> tuple[list[int], int]:
    """The page's ids among the matches in the default order, sorted on contact_search alone."""
    return list((await conn.execute(statements.sorted, params)).scalars()), total


# ---------------------------------------------------------------------------------------------- single


async def get(session: AsyncSession, workspace_id: int, identifier: str) -> dict[str, Any]:
    contact = await resolve_contact(session, workspace_id, identifier)
    return (await contacts_out(session, [contact]))[0]


async def out(session: AsyncSession, contact: Contact) -> dict[str, Any]:
    return (await contacts_out(session, [contact]))[0]


def _full_name(first: str | None, last: str | None) -> str | None:
    return " ".join(part for part in (first, last) if part) or None


def _changes(data: _ContactFields) -> dict[str, Any]:
    """The model values a body sets (only the fields it sent), normalized; "" clears like null."""
    sent = data.model_fields_set
    values: dict[str, Any] = {}
    for name in _PLAIN_FIELDS:
        if name in sent:
            values[name] = getattr(data, name) or None
    if "email" in sent:
        values["email"] = normalize_email(data.email, field="email") if data.email else None
    if "phone_number" in sent:
        values["phone_number"] = (
            normalize_phone(data.phone_number, field="phoneNumber") if data.phone_number else None
        )
    for name in ("email_opt_in", "email_verified"):
        if name in sent:
            value = getattr(data, name)
            if value is None:
                raise invalid_field(_camel(name), "must be true or false")
            values[name] = value
    now = utcnow()
    if "subscribed" in sent:
        values["subscribed_at"] = now if data.subscribed else None
    if "subscribed_to_broadcast" in sent:
        values["broadcast_subscribed_at"] = now if data.subscribed_to_broadcast else None
    return values


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def _ensure_unique(
    session: AsyncSession, workspace_id: int, values: Mapping[str, Any], except_id: int | None = None
) -> None:
    """409 DUPLICATE_CONTACT when another contact of the workspace has this email or phone."""
    for attr, field in (("email", "email"), ("phone_number", "phoneNumber")):
        value = values.get(attr)
        if not value:
            continue
        column = getattr(Contact, attr)
        stmt = select(Contact.id).where(Contact.workspace_id == workspace_id, column == value)
        if except_id is not None:
            stmt = stmt.where(Contact.id != except_id)
        existing = await session.scalar(stmt.limit(1))
        if existing is not None:
            raise Conflict(
                f"A contact with this {field} already exists.",
                code="DUPLICATE_CONTACT",
                field=field,
                contactId=str(existing),
            )


def _apply(contact: Contact, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        # Setting an unchanged value would still bump updatedAt; skip it.
        if getattr(contact, name) != value:
            setattr(contact, name, value)
    full_name = _full_name(contact.first_name, contact.last_name)
    if contact.full_name != full_name:
        contact.full_name = full_name


async def create(
    session: AsyncSession, workspace_id: int, data: _ContactFields, extra: Mapping[str, Any] | None = None
) -> Contact:
    values = {**_changes(data), **(extra or {})}
    now = utcnow()
    values.setdefault("subscribed_at", now)
    values.setdefault("broadcast_subscribed_at", now)
    values.setdefault("source", "api")
    await _ensure_unique(session, workspace_id, values)
    contact = Contact(workspace_id=workspace_id)
    _apply(contact, values)
    session.add(contact)
    await session.flush()
    await _publish(session, events.CONTACT_CREATED, contact)
    return contact


async def _publish(session: AsyncSession, type: str, contact: Contact) -> None:
    """The event of a contact change, carrying the full contact object as the API shows it."""
    await events.publish(session, contact.workspace_id, type, to_jsonable_python(await out(session, contact)))


async def update(session: AsyncSession, workspace_id: int, identifier: str, data: _ContactFields) -> Contact:
    contact = await resolve_contact(session, workspace_id, identifier)
    return await _update(session, workspace_id, contact, data)


async def _update(
    session: AsyncSession, workspace_id: int, contact: Contact, data: _ContactFields
) -> Contact:
    values = _changes(data)
    await _ensure_unique(session, workspace_id, values, except_id=contact.id)
    _apply(contact, values)
    await session.flush()
    await _publish(session, events.CONTACT_UPDATED, contact)
    return contact


async def upsert(
    session: AsyncSession, workspace_id: int, identifier: str, data: _ContactFields
) -> tuple[Contact, bool]:
    """Update the contact named by `identifier`, or create it with that email/phone; (contact, created)."""
    parsed = parse_identifier(identifier)
    contact = await find_contact(session, workspace_id, parsed)
    if contact is not None:
        return await _update(session, workspace_id, contact, data), False
    if parsed.kind == "id":
        raise NotFound(f"Contact {identifier!r} not found.", resource="contact")
    attr, field = ("email", "email") if parsed.kind == "email" else ("phone_number", "phoneNumber")
    sent = _changes(data).get(attr)
    if sent is not None and sent != parsed.value:
        raise invalid_field(field, f"differs from the identifier's {field}; leave it out or make them equal")
    return await create(session, workspace_id, data, {attr: parsed.value}), True


async def delete(session: AsyncSession, workspace_id: int, identifier: str) -> None:
    contact = await resolve_contact(session, workspace_id, identifier)
    await session.delete(contact)
    await session.flush()
    await events.publish(session, workspace_id, events.CONTACT_DELETED, {"id": str(contact.id)})


async def set_blocked(session: AsyncSession, workspace_id: int, identifier: str, blocked: bool) -> None:
    contact = await resolve_contact(session, workspace_id, identifier)
    if blocked and contact.blocked_at is None:
        contact.blocked_at = utcnow()
    elif not blocked and contact.blocked_at is not None:
        contact.blocked_at = None
    else:
        return
    await session.flush()
    await _publish(session, events.CONTACT_UPDATED, contact)


async def find_by_custom_field(
    session: AsyncSession, workspace_id: int, custom_field_id: str, value: str
) -> list[dict[str, Any]]:
    """Contacts whose custom field equals `value` read in the field's type (at most 100, oldest first)."""
    field_id = parse_id(custom_field_id)
    field = None
    if field_id is not None:
        field = await session.scalar(
            select(CustomField).where(CustomField.id == field_id, CustomField.workspace_id == workspace_id)
        )
    if field is None:
        raise NotFound(f"Custom field {custom_field_id!r} not found.", resource="customField")
    if "\x00" in value:
        raise invalid_field("value", "must not contain NUL characters")
    stored = coerce_value(field.type, value, field="value")
    ccf = ContactCustomField.__table__.c
    stmt = (
        select_contact_rows()
        .join(
            ContactCustomField.__table__,
            and_(ccf.contact_id == Contact.id, ccf.custom_field_id == field.id),
        )
        .where(Contact.workspace_id == workspace_id, ccf.value == stored)
        .order_by(Contact.id)
        .limit(FIND_BY_CUSTOM_FIELD_LIMIT)
    )
    rows = (await session.execute(stmt)).all()
    return await contacts_out(session, rows)


# ----------------------------------------------------------------------------------------------- notes


async def list_notes(session: AsyncSession, workspace_id: int, identifier: str) -> Sequence[ContactNote]:
    contact = await resolve_contact(session, workspace_id, identifier)
    stmt = (
        select(ContactNote)
        .where(ContactNote.contact_id == contact.id)
        .order_by(ContactNote.created_at.desc(), ContactNote.id.desc())
    )
    return (await session.execute(stmt)).scalars().all()


async def create_note(
    session: AsyncSession, workspace_id: int, identifier: str, data: ContactNoteCreate, member_id: int | None
) -> ContactNote:
    contact = await resolve_contact(session, workspace_id, identifier)
    note = ContactNote(contact_id=contact.id, text=data.text, created_by_id=member_id)
    session.add(note)
    await session.flush()
    return note


async def delete_note(session: AsyncSession, workspace_id: int, identifier: str, note_id: str) -> None:
    contact = await resolve_contact(session, workspace_id, identifier)
    parsed = parse_id(note_id)
    note = None
    if parsed is not None:
        note = await session.scalar(
            select(ContactNote).where(ContactNote.id == parsed, ContactNote.contact_id == contact.id)
        )
    if note is None:
        raise NotFound("Note not found.", resource="contactNote")
    await session.delete(note)
    await session.flush()
