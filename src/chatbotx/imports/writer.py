"""Writing one batch of checked rows: set-based lookups, then bulk INSERT/UPDATE (Core executemany).

Nothing here commits: the caller commits the batch together with the job's progress.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import String, Table, any_, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.imports.rows import ContactRow, Failure
from chatbotx.kit.db import utcnow
from chatbotx.kit.ids import new_id
from chatbotx.models import Contact, ContactCustomField, ContactInbox, ContactTag, Tag


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


CONTACT = _table(Contact)
# Columns an import can set; an empty cell never clears one.
UPDATABLE = (
    "email",
    "phone_number",
    "first_name",
    "last_name",
    "full_name",
    "gender",
    "locale",
    "timezone",
    "country",
    "state",
    "city",
    "ref",
    "source",
)
# Channels whose contacts are addressed by their phone number or email address.
PHONE_CHANNELS = frozenset({"whatsapp"})
EMAIL_CHANNELS = frozenset({"smtp", "email"})


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """Where a job imports to."""

    workspace_id: int
    update_existing: bool = True
    inbox_id: int | None = None
    inbox_channel: str | None = None


@dataclasses.dataclass(slots=True)
class Pending:
    """One contact the batch creates or updates, with everything its rows bring."""

    id: int
    is_new: bool
    values: dict[str, str] = dataclasses.field(default_factory=dict)
    tags: list[str] = dataclasses.field(default_factory=list)
    fields: dict[int, str] = dataclasses.field(default_factory=dict)
    source_ids: list[str] = dataclasses.field(default_factory=list)
    old_first: str | None = None
    old_last: str | None = None
    names_given: bool = False
    full_given: bool = False

    @classmethod
    def first(cls, contact_id: int, is_new: bool, row: ContactRow, source_id: str | None) -> Pending:
        """The contact's first row of the batch (what `merge` into an empty one gives, for less)."""
        values = row.values
        return cls(
            contact_id,
            is_new,
            dict(values),
            list(row.tags),
            dict(row.fields),
            [source_id] if source_id is not None else [],
            names_given=row.names_given,
            full_given="full_name" in values,
        )

    def merge(self, row: ContactRow, source_id: str | None) -> None:
        self.values.update(row.values)
        self.tags.extend(t for t in row.tags if t not in self.tags)
        self.fields.update(row.fields)
        if source_id is not None and source_id not in self.source_ids:
            self.source_ids.append(source_id)
        self.names_given = self.names_given or row.names_given
        self.full_given = self.full_given or "full_name" in row.values

    def full_name(self) -> str | None:
        """The explicit full name, else first + last when a name changed (None: leave it as it is)."""
        if self.full_given:
            return self.values["full_name"]
        if not self.names_given:
            return None
        first = self.values.get("first_name", self.old_first)
        last = self.values.get("last_name", self.old_last)
        if first and last:
            return f"{first} {last}"
        return first or last or None


@dataclasses.dataclass(slots=True)
class BatchResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failures: list[Failure] = dataclasses.field(default_factory=list)

    @property
    def failed_rows(self) -> int:
        return len({f.row for f in self.failures})


def source_id_for(row: ContactRow, channel: str | None) -> str | Failure:
    """The channel's id for the contact of `row` on the import's inbox."""
    if row.source_id:
        return row.source_id
    if channel in PHONE_CHANNELS:
        if row.phone:
            return row.phone.lstrip("+")  # WhatsApp's wa_id: the E.164 digits
        return Failure(row.line, None, f"a {channel} inbox needs the contact's phone number")
    if channel in EMAIL_CHANNELS:
        if row.email:
            return row.email.strip().lower()  # as the email channel keys its senders
        return Failure(row.line, None, f"an {channel} inbox needs the contact's email address")
    return Failure(
        row.line, None, f"a {channel} inbox needs the contact's sourceId (the channel's id for them)"
    )


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# A contact's email, phone number, first and last name.
Known = tuple[str | None, str | None, str | None, str | None]


@dataclasses.dataclass(slots=True)
class Carried:
    """What a batch leaves behind for the next one, which is planned before the batch commits."""

    contacts: dict[int, Known] = dataclasses.field(default_factory=dict)
    sources: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True)
class Planned:
    """A batch ready to write: its contacts, and the COPY records of the new ones, built while the batch
    before it is written (not on the write's way)."""

    pending: dict[int, Pending]
    result: BatchResult
    carried: Carried
    now: dt.datetime = dataclasses.field(default_factory=utcnow)
    new_contacts: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)


class Matcher:
    """Finds the contact a row belongs to: by email, then phone, then the inbox's source id.

    Seeded from the database for the whole batch, then kept up to date as rows are taken, so the same
    email twice in one file is one contact.
    """

    def __init__(self) -> None:
        self.by_email: dict[str, int] = {}
        self.by_phone: dict[str, int] = {}
        self.by_source: dict[str, int] = {}
        self.known: dict[int, Known] = {}

    def index(self, contact_id: int, known: Known) -> None:
        """An existing contact, as the database holds it (after the previous batch)."""
        email, phone = known[0], known[1]
        if email:
            _keep_oldest(self.by_email, email, contact_id)
        if phone:
            _keep_oldest(self.by_phone, phone, contact_id)
        self.known[contact_id] = known

    def find(self, row: ContactRow, source_id: str | None) -> int | None:
        values = row.values
        found = None
        if email := values.get("email"):
            found = self.by_email.get(email)
        if found is None and (phone := values.get("phone_number")):
            found = self.by_phone.get(phone)
        if found is None and source_id is not None:
            found = self.by_source.get(source_id)
        return found

    def remember(self, contact_id: int, row: ContactRow, source_id: str | None) -> None:
        values = row.values
        if email := values.get("email"):
            self.by_email.setdefault(email, contact_id)
        if phone := values.get("phone_number"):
            self.by_phone.setdefault(phone, contact_id)
        if source_id is not None:
            self.by_source.setdefault(source_id, contact_id)


def _keep_oldest(index: dict[str, int], key: str, contact_id: int) -> None:
    """Several contacts may share an address: the oldest (smallest time-ordered id) is the one matched."""
    if contact_id < index.get(key, contact_id + 1):
        index[key] = contact_id


def _lookup(session: AsyncSession, key: Any, keys: set[str], query: Any) -> Any:
    """`query`'s rows whose `key` is one of `keys`: one statement for the whole batch.

    On PostgreSQL the keys are one array parameter (`key = ANY($1)`). Where the statistics know the
    workspace, that is one probe of the (workspace_id, key) index per key. Where they do not (a table never
    analyzed, or a workspace new to its statistics: the planner then expects one row of it and any index
    starting with workspace_id looks as good), the worst plan is one pass over the workspace's rows with the
    keys hashed. A join on the keys (a LATERAL subquery per key) was planned in that state as one pass per
    key: 1,000 passes over 20,000 rows, 4 s a batch (measured), which made an import quadratic.
    """
    if session.get_bind().dialect.name != "postgresql":
        return query.where(key.in_(keys))
    return query.where(key == any_(bindparam("keys", sorted(keys), type_=postgresql.ARRAY(String))))


async def load_matcher(
    session: AsyncSession,
    target: Target,
    rows: Sequence[ContactRow],
    source_ids: Iterable[str],
    carried: Carried | None = None,
) -> Matcher:
    """Three indexed lookups for the whole batch (no per-row queries), seen through `carried`: the previous
    batch's contacts as they will be once it commits."""
    carried = carried or Carried()
    matcher = Matcher()
    emails = {e for r in rows if (e := r.values.get("email"))}
    phones = {p for r in rows if (p := r.values.get("phone_number"))}
    columns = (Contact.id, Contact.email, Contact.phone_number, Contact.first_name, Contact.last_name)
    contacts = select(*columns).where(Contact.workspace_id == target.workspace_id)
    queries = []
    if emails:
        queries.append(_lookup(session, Contact.email, emails, contacts))
    if phones:
        queries.append(_lookup(session, Contact.phone_number, phones, contacts))
    for query in queries:
        for c in await session.execute(query):
            known = carried.contacts.get(c.id) or (c.email, c.phone_number, c.first_name, c.last_name)
            matcher.index(c.id, known)
    wanted = set(source_ids)
    if target.inbox_id is not None and wanted:
        on_inbox = (
            select(ContactInbox.source_id, *columns)
            .join(Contact, Contact.id == ContactInbox.contact_id)
            .where(ContactInbox.inbox_id == target.inbox_id)
        )
        for c in await session.execute(_lookup(session, ContactInbox.source_id, wanted, on_inbox)):
            matcher.by_source[c.source_id] = c.id
            matcher.known.setdefault(c.id, (c.email, c.phone_number, c.first_name, c.last_name))
    # Of the previous batch's contacts, only those this batch can match: by one of its addresses, or by a
    # source id (whose contact's names a row may change). Indexing all of them cost about 1 µs a row.
    by_source = {carried.sources[s] for s in wanted if s in carried.sources}
    for contact_id, known in carried.contacts.items():
        if known[0] in emails or known[1] in phones or contact_id in by_source:
            matcher.index(contact_id, known)
    matcher.by_source.update(carried.sources)
    return matcher


def plan_batch(
    target: Target, rows: Sequence[ContactRow], matcher: Matcher
) -> tuple[dict[int, Pending], BatchResult]:
    """Decide, row by row, which contact each row creates or updates (pure once the matcher is loaded)."""
    pending: dict[int, Pending] = {}
    result = BatchResult()
    plan_rows(target, rows, matcher, pending, result)
    return pending, result


def plan_rows(
    target: Target,
    rows: Sequence[ContactRow],
    matcher: Matcher,
    pending: dict[int, Pending],
    result: BatchResult,
) -> None:
    """plan_batch for some of a batch's rows, into the batch's `pending` and `result`."""
    for row in rows:
        source_id: str | None = None
        if target.inbox_id is not None:
            derived = source_id_for(row, target.inbox_channel)
            if isinstance(derived, Failure):
                result.failures.append(derived)
                continue
            source_id = derived
        contact_id = matcher.find(row, source_id)
        if source_id is not None:
            owner = matcher.by_source.get(source_id)
            if owner is not None and contact_id is not None and owner != contact_id:
                result.failures.append(
                    Failure(
                        row.line, None, f"source id {source_id!r} belongs to another contact on the inbox"
                    )
                )
                continue
        if contact_id is None:
            contact_id = new_id()
            pending[contact_id] = Pending.first(contact_id, True, row, source_id)
            result.created += 1
        elif not target.update_existing:
            result.skipped += 1
            continue
        else:
            known = pending.get(contact_id)
            if known is None:
                _, _, first, last = matcher.known.get(contact_id, (None, None, None, None))
                known = pending[contact_id] = Pending(
                    contact_id, is_new=False, old_first=first, old_last=last
                )
            known.merge(row, source_id)
            result.updated += 1
        matcher.remember(contact_id, row, source_id)


async def ensure_tags(
    session: AsyncSession, workspace_id: int, names: Iterable[str], now: dt.datetime
) -> dict[str, int]:
    """Tag ids by name, creating the missing tags (and reviving soft-deleted ones)."""
    wanted = set(names)
    if not wanted:
        return {}
    stmt = select(Tag.id, Tag.name, Tag.deleted_at).where(
        Tag.workspace_id == workspace_id, Tag.name.in_(wanted)
    )
    found = {t.name: t for t in await session.execute(stmt)}
    missing = [n for n in wanted if n not in found]
    if missing:
        rows = [
            {"id": new_id(), "workspace_id": workspace_id, "name": n, "created_at": now, "updated_at": now}
            for n in missing
        ]
        # DO NOTHING: a tag created concurrently under the same name is simply used.
        await session.execute(_insert(session)(Tag.__table__).on_conflict_do_nothing(), rows)
        found = {t.name: t for t in await session.execute(stmt)}
    revived = [t.id for t in found.values() if t.deleted_at is not None]
    if revived:
        await session.execute(update(Tag).where(Tag.id.in_(revived)).values(deleted_at=None, updated_at=now))
    return {name: t.id for name, t in found.items()}


def _update_statement() -> Any:
    values: dict[str, Any] = {
        column: func.coalesce(bindparam(f"p_{column}", type_=String), CONTACT.c[column])
        for column in UPDATABLE
    }
    values["updated_at"] = bindparam("p_updated_at", type_=Contact.updated_at.type)
    return update(CONTACT).where(CONTACT.c.id == bindparam("p_id")).values(values)


async def _driver(session: AsyncSession) -> Any:
    """The session's asyncpg connection, in the session's transaction (PostgreSQL only)."""
    connection = await session.connection()
    driver: Any = (await connection.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN with the session's first statement, not before: a COPY
        # through the driver as the first statement would commit on its own.
        await session.execute(text("SELECT 1"))
    return driver


async def _copy(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert rows that cannot conflict: COPY on PostgreSQL (in the session's transaction), else INSERTs."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        await (await _driver(session)).copy_records_to_table(table.name, records=rows, columns=list(columns))
        return
    await session.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


# PostgreSQL: a batch's updates and its existing contacts' tags as one statement each, the rows passed as one
# array per column (a few lists to build, one round trip) instead of an executemany of a dict per row.
_UPDATE_FROM_ARRAYS = (
    "UPDATE contact SET "
    + ", ".join(f"{c} = coalesce(v.{c}, contact.{c})" for c in UPDATABLE)
    + ", updated_at = $1::timestamptz FROM unnest($2::bigint[], "
    + ", ".join(f"${i}::text[]" for i in range(3, 3 + len(UPDATABLE)))
    + f") AS v(id, {', '.join(UPDATABLE)}) WHERE contact.id = v.id"
)
_TAGS_FROM_ARRAYS = (
    "INSERT INTO contact_tag (contact_id, tag_id, created_at) SELECT v.contact_id, v.tag_id, $1::timestamptz "
    "FROM unnest($2::bigint[], $3::bigint[]) AS v(contact_id, tag_id) ON CONFLICT DO NOTHING"
)


async def _update_contacts(session: AsyncSession, existing: list[Pending], now: dt.datetime) -> None:
    """Each contact's given values over its current ones (coalesce: an empty cell changes nothing)."""
    if not existing:
        return
    rows = [(p.id, *_contact_values(p)) for p in existing]
    if session.get_bind().dialect.name == "postgresql":
        await (await _driver(session)).execute(_UPDATE_FROM_ARRAYS, now, *map(list, zip(*rows, strict=True)))
        return
    changes = [
        {
            "p_id": row[0],
            "p_updated_at": now,
            **{f"p_{c}": v for c, v in zip(UPDATABLE, row[1:], strict=True)},
        }
        for row in rows
    ]
    await session.execute(_update_statement(), changes)


async def _add_tags(session: AsyncSession, links: list[tuple[int, int]], now: dt.datetime) -> None:
    """Tag links for existing contacts (those they have already are left alone)."""
    if not links:
        return
    if session.get_bind().dialect.name == "postgresql":
        contact_ids, tag_ids = (list(column) for column in zip(*links, strict=True))
        await (await _driver(session)).execute(_TAGS_FROM_ARRAYS, now, contact_ids, tag_ids)
        return
    rows = [{"contact_id": c, "tag_id": t, "created_at": now} for c, t in links]
    await session.execute(_insert(session)(ContactTag.__table__).on_conflict_do_nothing(), rows)


def _contact_values(p: Pending) -> tuple[str | None, ...]:
    """The UPDATABLE columns' values for `p` (None: not given, left as it is)."""
    values: dict[str, str | None] = {**p.values, "full_name": p.full_name()}
    return tuple(map(values.get, UPDATABLE))


CONTACT_COLUMNS = (
    "id",
    "workspace_id",
    "email_verified",
    "email_opt_in",
    "created_at",
    "updated_at",
    *UPDATABLE,
)
TAG_COLUMNS = ("contact_id", "tag_id", "created_at")
FIELD_COLUMNS = ("id", "contact_id", "custom_field_id", "value", "created_at", "updated_at")


def contact_records(
    workspace_id: int, pending: dict[int, Pending], now: dt.datetime
) -> list[tuple[Any, ...]]:
    """The CONTACT_COLUMNS of the batch's new contacts."""
    return [
        (p.id, workspace_id, False, True, now, now, *_contact_values(p)) for p in pending.values() if p.is_new
    ]


async def write_batch(session: AsyncSession, target: Target, planned: Planned) -> None:
    """All writes of a batch: contacts, tags, custom field values, contact inboxes.

    What belongs to new contacts cannot conflict with anything, so it is copied in; what touches existing
    contacts is an executemany UPDATE or an INSERT ... ON CONFLICT.
    """
    pending, now = planned.pending, planned.now
    insert = _insert(session)
    created = [p for p in pending.values() if p.is_new]
    existing = [p for p in pending.values() if not p.is_new]
    workspace_id = target.workspace_id
    await _copy(session, CONTACT, CONTACT_COLUMNS, planned.new_contacts)
    await _update_contacts(session, existing, now)

    tag_ids = await ensure_tags(session, workspace_id, (t for p in pending.values() for t in p.tags), now)
    await _copy(
        session, _table(ContactTag), TAG_COLUMNS, [(p.id, tag_ids[t], now) for p in created for t in p.tags]
    )
    await _add_tags(session, [(p.id, tag_ids[t]) for p in existing for t in p.tags], now)

    new_values = [(new_id(), p.id, f, v, now, now) for p in created for f, v in p.fields.items()]
    await _copy(session, _table(ContactCustomField), FIELD_COLUMNS, new_values)
    old_values = [
        dict(zip(FIELD_COLUMNS, (new_id(), p.id, f, v, now, now), strict=True))
        for p in existing
        for f, v in p.fields.items()
    ]
    if old_values:
        stmt = insert(ContactCustomField.__table__)
        stmt = stmt.on_conflict_do_update(
            index_elements=["contact_id", "custom_field_id"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        await session.execute(stmt, old_values)

    inboxes = [
        {"id": new_id(), "contact_id": p.id, "inbox_id": target.inbox_id, "source_id": s, "created_at": now}
        for p in pending.values()
        for s in p.source_ids
    ]
    if inboxes:
        # A source id taken meanwhile by another contact on the inbox is left to that contact.
        stmt = insert(ContactInbox.__table__).on_conflict_do_nothing(index_elements=["inbox_id", "source_id"])
        await session.execute(stmt, inboxes)


def carry(pending: dict[int, Pending], matcher: Matcher) -> Carried:
    """Each contact the batch touches as it will be after the batch, and the source ids it adds."""
    carried = Carried()
    for p in pending.values():
        email, phone, first, last = matcher.known.get(p.id, (None, None, None, None))
        v = p.values
        carried.contacts[p.id] = (
            v.get("email", email),
            v.get("phone_number", phone),
            v.get("first_name", first),
            v.get("last_name", last),
        )
        for source_id in p.source_ids:
            carried.sources[source_id] = p.id
    return carried


# Rows planned between two points where the event loop may serve the batch being written (about 2 ms): it
# is planned while the previous batch is written, and that write's statements wait for the loop.
PLAN_STEP = 250


async def plan(
    session: AsyncSession, target: Target, rows: Sequence[ContactRow], carried: Carried | None = None
) -> Planned:
    """Match and plan one batch of checked rows (reads only)."""
    source_ids: list[str] = []
    if target.inbox_id is not None:
        source_ids = [s for r in rows if isinstance(s := source_id_for(r, target.inbox_channel), str)]
    matcher = await load_matcher(session, target, rows, source_ids, carried)
    pending: dict[int, Pending] = {}
    result = BatchResult()
    for start in range(0, len(rows), PLAN_STEP):
        if start:
            await asyncio.sleep(0)
        plan_rows(target, rows[start : start + PLAN_STEP], matcher, pending, result)
    now = utcnow()
    records = contact_records(target.workspace_id, pending, now)
    return Planned(pending, result, carry(pending, matcher), now, records)


async def import_batch(session: AsyncSession, target: Target, rows: Sequence[ContactRow]) -> BatchResult:
    """Match, plan and write one batch of checked rows; returns its counts and row failures."""
    planned = await plan(session, target, rows)
    await write_batch(session, target, planned)
    return planned.result
