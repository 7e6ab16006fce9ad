"""Contact list pages read as typed rows and serialized here with orjson: the plain list (no filter, the
default order: the CLI's and UI's usual call) whole, and every other list page from its contacts' ids (found
by service.list_contacts under the filters and sort).

Building the JSON in the database (json_build_object, to_char for every timestamp: the former
contacts/sqljson.py) cost PostgreSQL three times what reading the same values does, and SQLite's JSON
functions (each nested array parsed again by json()) most of its time. So the page is read as plain columns
and orjson writes the objects: the same keys, order and values as `serialize.contacts_out` + `dumps_json`
(tests/contacts/test_plain_list.py compares the bytes, on every kind of page).

- PostgreSQL: ONE statement, outside a transaction (a single statement reads one snapshot): the page's contact
  columns beside each contact's nested rows as arrays of anonymous records, which asyncpg decodes in C (see
  `pg_sql`). The workspace id is written into the text (an integer), so the prepared statement has no
  parameters and is planned once per connection with the real values.
- SQLite: seven statements (the page, then custom fields, tag ids, notes, contact inboxes and latest
  conversations of its ids, and the page's tags) in one read transaction, on aiosqlite's sqlite3 connection in
  the event loop's thread (see `_read_sqlite`). Timestamps are formatted by SQLite (the stored text is already
  ISO 8601 but for the T and Z). Each contact's own fields come as one JSON object from json_object (see
  `sqlite_page_sql`) and orjson writes only its nested lists (see `sqlite_json`): SQLite writes the object for
  about what Python's sqlite3 charged to fetch its 25 values, which then no longer become Python objects, a
  dict and orjson's input (about 0.05 ms less CPU a page of 50).

Either way the number of statements per page is constant, and checkout, read and checkin take one greenlet.
Given contacts (`contacts_json`) are read the same way on the request's connection: PostgreSQL's statement
takes the ids as an array (and is planned once per connection), SQLite's first statement the ids.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import await_, greenlet_spawn

from chatbotx.contacts import service
from chatbotx.contacts.serialize import CONTACT_COLUMNS
from chatbotx.kit.pagination import PageParams
from chatbotx.models import Contact

_WS = "__workspace_id__"  # where PostgreSQL's text takes the workspace id
_CONTACT_NAMES = tuple(c.name for c in CONTACT_COLUMNS)
_CONTACT_IDS = frozenset({"id", "workspace_id"})  # written as strings
_CONTACT_FLAGS = frozenset({"email_verified", "email_opt_in"})  # stored 0/1, written as booleans
_INBOX_NAMES = ("id", "created_at", "updated_at", "name", "channel", "source_id", "workspace_id", "status")
_INBOX_TIMES = frozenset({"created_at", "updated_at"})
_CONTACT_TIMES = frozenset(
    {
        "created_at",
        "updated_at",
        "last_read_at",
        "subscribed_at",
        "broadcast_subscribed_at",
        "blocked_at",
    }
)


def _camel(name: str) -> str:
    """A contact column's JSON key (contacts_out's keys are the names in camelCase: phoneNumber)."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


class _Sql:
    """Column expressions for one database: timestamps as they are (PostgreSQL: asyncpg gives aware datetimes)
    or as orjson's text (SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff', naive UTC, see kit.db)."""

    def __init__(self, pg: bool):
        self.pg = pg

    def ts(self, column: str) -> str:
        if self.pg:
            return column
        return f"replace(replace({column}, ' ', 'T') || 'Z', '.000000Z', 'Z')"

    def cols(self, alias: str, names: Sequence[str], times: frozenset[str]) -> str:
        return ", ".join(self.ts(f"{alias}.{n}") if n in times else f"{alias}.{n}" for n in names)

    def nested(self) -> list[tuple[str, str, str, str, str]]:
        """Each nested list: its columns (as `contacts` reads them), tables, contact id, extra condition and
        order (the orders of serialize.contacts_out). Tags are listed by id (their rows come once a page)."""
        ts = self.ts
        return [
            (
                f"f.id, {ts('f.created_at')}, {ts('f.updated_at')}, f.value, f.custom_field_id",
                "contact_custom_field f",
                "f.contact_id",
                "",
                "f.id",
            ),
            (
                "t.id",
                "contact_tag ct JOIN tag t ON t.id = ct.tag_id",
                "ct.contact_id",
                " AND t.deleted_at IS NULL",
                "t.name",
            ),
            (
                f"n.id, {ts('n.created_at')}, {ts('n.updated_at')}, n.text, n.created_by_id",
                "contact_note n",
                "n.contact_id",
                "",
                "n.created_at DESC, n.id DESC",
            ),
            (
                f"ci.id, ci.inbox_id, {self.cols('i', _INBOX_NAMES, _INBOX_TIMES)}",
                "contact_inbox ci JOIN inbox i ON i.id = ci.inbox_id",
                "ci.contact_id",
                "",
                "ci.created_at, ci.id",
            ),
        ]

    def tags_of(self, tag_ids: str) -> str:
        """The (not deleted) tags `tag_ids` (an SQL query of ids), once each (PostgreSQL takes the ids as an
        array: offered a semi join, it chose to read contact_tag by tag_id)."""
        ts = self.ts
        return (
            f"SELECT t.id, {ts('t.created_at')}, {ts('t.updated_at')}, t.name, {ts('t.deleted_at')}, "
            "t.folder_id, t.workspace_id FROM tag t WHERE "
            + (f"t.id = ANY(ARRAY({tag_ids}))" if self.pg else f"t.id IN ({tag_ids})")
            + " AND t.deleted_at IS NULL"
        )

    def contact_object(self) -> str:
        """SQLite: the contact's own fields as contacts_out's JSON object (its nested lists left out)."""
        fields = []
        for name in _CONTACT_NAMES:
            column = f"contact.{name}"
            if name in _CONTACT_IDS:
                column = f"CAST({column} AS TEXT)"
            elif name in _CONTACT_FLAGS:
                column = f"CASE WHEN {column} THEN json('true') ELSE json('false') END"
            elif name in _CONTACT_TIMES:
                column = self.ts(column)
            fields.append(f"'{_camel(name)}', {column}")
        return f"json_object({', '.join(fields)})"

    def conversation_cols(self) -> str:
        ts = self.ts
        attributes = "cv.additional_attributes::text" if self.pg else "cv.additional_attributes"
        return (
            f"cv.id, {ts('cv.created_at')}, {ts('cv.updated_at')}, cv.bot_enabled, {ts('cv.bot_resume_at')}, "
            f"{ts('cv.archived_at')}, {attributes}, "
            f"{ts('cv.contact_last_read_at')}, {ts('cv.agent_last_read_at')}, {ts('cv.last_activity_at')}, "
            f"cv.followed, cv.workspace_id, {ts('cv.admin_replied_at')}, {ts('cv.contact_replied_at')}, "
            "cv.ai_context_last_message_id, cv.assigned_user_id, cv.assigned_team_id, "
            f"u.id, {ts('u.created_at')}, {ts('u.updated_at')}, u.name, u.email, u.email_verified, u.image, "
            f"u.is_anonymous, tm.id, {ts('tm.created_at')}, {ts('tm.updated_at')}, tm.workspace_id, tm.name, "
            f"{self.cols('i', _INBOX_NAMES, _INBOX_TIMES)}"
        )


_CONVERSATION_FROM = (
    "conversation cv LEFT JOIN user_account u ON u.id = cv.assigned_user_id "
    "LEFT JOIN team tm ON tm.id = cv.assigned_team_id LEFT JOIN inbox i ON i.id = cv.inbox_id"
)
_CONVERSATION_ORDER = "cv.last_activity_at DESC, cv.id DESC"


def _order(alias: str) -> str:
    """service.DEFAULT_SORT on `alias`."""
    return f"{alias}.created_at DESC, {alias}.id DESC"


def _pg_statement(page: str, total: str, order: str) -> str:
    """PostgreSQL's statement over the page CTE `p` (`page`: the contact columns, then any sort key), with
    `total` as its first column, in `order` (on p).

    Rows: total, the contact columns, custom fields, tag ids, notes and contact inboxes (arrays of records,
    tag ids an int8 array, NULL for none), the latest conversation (a record or NULL), and on one row only
    the page's tags (an array of records: a page's contacts share a few tags, each decoded once).

    Each nested kind is read for the whole page at once (contact_id = ANY(the page's ids): one index scan)
    and grouped, not by a subquery per contact (each costs an executor rescan even when it finds nothing;
    together they cost PostgreSQL more than the rest of the statement). The latest conversation is picked
    with DISTINCT ON among the page's contacts' conversations (as contacts_out's row_number does)."""
    q = _Sql(pg=True)
    page_ids = "ANY(ARRAY(SELECT id FROM p))"
    (cf, tags, notes, inboxes) = q.nested()
    ctes = []
    for name, (cols, tables, key, extra, nested_order) in (("cf", cf), ("nt", notes), ("ci", inboxes)):
        ctes.append(
            f"{name} AS (SELECT {key} AS contact_id, array_agg(ROW({cols}) ORDER BY {nested_order}) AS a "
            f"FROM {tables} WHERE {key} = {page_ids}{extra} GROUP BY {key})"
        )
    cols, tables, key, extra, nested_order = tags
    ctes.append(
        f"pt AS (SELECT {key} AS contact_id, t.id, {nested_order} AS sort_key FROM {tables} "
        f"WHERE {key} = {page_ids}{extra})"
    )
    ctes.append("tg AS (SELECT contact_id, array_agg(id ORDER BY sort_key) AS a FROM pt GROUP BY contact_id)")
    ctes.append(
        f"lc AS (SELECT DISTINCT ON (cv.contact_id) cv.contact_id, ROW({q.conversation_cols()}) AS a "
        f"FROM {_CONVERSATION_FROM} WHERE cv.contact_id = {page_ids} "
        f"ORDER BY cv.contact_id, {_CONVERSATION_ORDER})"
    )
    page_tags = f"ARRAY(SELECT ROW(tags.*) FROM ({q.tags_of('SELECT DISTINCT id FROM pt')}) tags)"
    return (
        f"WITH p AS ({page}), {', '.join(ctes)} "
        f"SELECT {total} AS total, "
        f"{', '.join(f'p.{n}' for n in _CONTACT_NAMES)}, cf.a, tg.a, nt.a, ci.a, lc.a, "
        f"CASE WHEN p.id = (SELECT min(id) FROM p) THEN {page_tags} END "
        "FROM p LEFT JOIN cf ON cf.contact_id = p.id LEFT JOIN tg ON tg.contact_id = p.id "
        "LEFT JOIN nt ON nt.contact_id = p.id LEFT JOIN ci ON ci.contact_id = p.id "
        "LEFT JOIN lc ON lc.contact_id = p.id "
        f"ORDER BY {order}"
    )


_PAGE_COLS = ", ".join(f"contact.{n}" for n in _CONTACT_NAMES)


@functools.lru_cache(maxsize=256)
def pg_sql(per_page: int, offset: int) -> tuple[str, ...]:
    """PostgreSQL's plain page statement (see `_pg_statement`: total from contact_count) split where the
    workspace id goes."""
    sql = _pg_statement(
        f"SELECT {_PAGE_COLS} FROM contact WHERE contact.workspace_id = {_WS} "
        f"ORDER BY {_order('contact')} LIMIT {int(per_page)} OFFSET {int(offset)}",
        f"(SELECT n FROM contact_count WHERE workspace_id = {_WS})",
        _order("p"),
    )
    return tuple(sql.split(_WS))


# PostgreSQL's statement for given contacts in a given order (see `_pg_statement`; parameters: the ids as an
# int8 array, the workspace id). Its plan does not depend on the values: it is planned once per connection.
PG_IDS_SQL = _pg_statement(
    f"SELECT {_PAGE_COLS}, ids.page_position "
    "FROM unnest($1::int8[]) WITH ORDINALITY AS ids(id, page_position) "
    "JOIN contact ON contact.id = ids.id WHERE contact.workspace_id = $2",
    "NULL::int8",
    "p.page_position",
)


@functools.lru_cache(maxsize=256)
def sqlite_page_sql(per_page: int, offset: int) -> str:
    """SQLite's page statement (parameters: the workspace id twice). Rows: total, contact id, the contact's
    own fields as a JSON object."""
    q = _Sql(pg=False)
    return (
        "SELECT (SELECT n FROM contact_count WHERE workspace_id = ?) AS total, contact.id, "
        f"{q.contact_object()} FROM contact WHERE contact.workspace_id = ? "
        f"ORDER BY {_order('contact')} LIMIT {int(per_page)} OFFSET {int(offset)}"
    )


@functools.lru_cache(maxsize=64)
def sqlite_ids_sql(count: int) -> str:
    """SQLite's statement for `count` given contacts (parameters: their ids, then the workspace id). Rows as
    `sqlite_page_sql`'s with a NULL total, in no particular order.

    The workspace is checked on the rows found by id (the unary + keeps SQLite off the workspace's indexes: it
    chose one and read every contact of the workspace, 3.3 ms at 20,000 instead of 50 lookups)."""
    return (
        f"SELECT NULL, contact.id, {_Sql(pg=False).contact_object()} FROM contact "
        f"WHERE contact.id IN ({', '.join('?' * count)}) AND +contact.workspace_id = ?"
    )


@functools.lru_cache(maxsize=64)
def sqlite_nested_sql(count: int) -> tuple[str, ...]:
    """SQLite's statements for the nested rows of `count` contact ids: custom fields, tag ids, notes, contact
    inboxes, latest conversations (each row led by its contact id)."""
    q = _Sql(pg=False)
    ids = ", ".join("?" * count)
    out = [
        f"SELECT {key}, {cols} FROM {tables} WHERE {key} IN ({ids}){extra} ORDER BY {key}, {order}"
        for cols, tables, key, extra, order in q.nested()
    ]
    out.append(
        f"SELECT cv.contact_id, {q.conversation_cols()} FROM {_CONVERSATION_FROM} "
        f"WHERE cv.contact_id IN ({ids}) "
        "AND cv.id = (SELECT c2.id FROM conversation c2 WHERE c2.contact_id = cv.contact_id "
        "ORDER BY c2.last_activity_at DESC, c2.id DESC LIMIT 1)"
    )
    return tuple(out)


# SQLite's statement for the page's tags, given their ids (read with the contacts' tag ids) as a JSON array:
# half what reading contact_tag again for the page's contacts cost.
SQLITE_TAGS_SQL = _Sql(pg=False).tags_of("SELECT value FROM json_each(?)")


# ----------------------------------------------------------------------------------- reading

# The rows (PostgreSQL: see pg_sql; SQLite: total, contact id, its JSON object, custom fields, tag ids, notes,
# contact inboxes, latest conversation or None), and the page's tags by id.
Page = tuple[list[Any], dict[int, Any]]


def _announce(conn: Connection, sql: str, parameters: Any) -> None:
    """Tell the engine's cursor events about a statement, as Connection._execute_context does."""
    for announce in conn.dispatch.before_cursor_execute:
        announce(conn, None, sql, parameters, None, False)


def _read_postgres(conn: Connection, workspace_id: int, page: PageParams) -> Page:
    sql = str(int(workspace_id)).join(pg_sql(page.per_page, page.offset))
    _announce(conn, sql, ())
    driver: Any = conn.connection.driver_connection
    return _pg_page(await_(driver.fetch(sql)))


def _pg_page(rows: list[Any]) -> Page:
    """PostgreSQL's rows (see `_pg_statement`) and the page's tags (on one of them) by id."""
    page_tags = next((row[31] for row in rows if row[31] is not None), ())
    return rows, {t[0]: t for t in page_tags}


def _read_sqlite(conn: Connection, workspace_id: int, page: PageParams) -> Page:
    sql = sqlite_page_sql(page.per_page, page.offset)
    _announce(conn, sql, (workspace_id, workspace_id))
    _announce_nested(conn, page.per_page)  # (the last page may have fewer ids: the same statements)
    # Read on aiosqlite's sqlite3 connection in this thread (kit.db opens it with check_same_thread=False):
    # the connection is checked out to us, so aiosqlite's thread has nothing to do with it meanwhile; and
    # the hop to that thread and back (a queue, a wake-up, the GIL changing hands) cost more than this read.
    driver: Any = conn.connection.driver_connection
    db: sqlite3.Connection = driver._conn
    with _sqlite_snapshot(db):
        return _sqlite_nested(db, db.execute(sql, (workspace_id, workspace_id)).fetchall())


def _announce_nested(conn: Connection, count: int) -> None:
    for sql in sqlite_nested_sql(count):
        _announce(conn, sql, ())
    _announce(conn, SQLITE_TAGS_SQL, ())


@contextlib.contextmanager
def _sqlite_snapshot(db: sqlite3.Connection) -> Iterator[None]:
    """The reads inside in one SQLite read transaction (the driver opens none for reads, see kit.db), or in
    the connection's own if it has one."""
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


def _sqlite_nested(db: sqlite3.Connection, rows: list[Any]) -> Page:
    """SQLite's page rows (see `Page`) from its contacts' rows (total, id, JSON object)."""
    if not rows:
        return rows, {}
    ids = [row[1] for row in rows]
    nested: list[dict[int, list[Any]]] = []
    for sql in sqlite_nested_sql(len(ids)):
        by_contact: dict[int, list[Any]] = {}
        for row in db.execute(sql, ids):
            by_contact.setdefault(row[0], []).append(row[1:])
        nested.append(by_contact)
    cf, tag_ids, notes, inboxes, conversations = nested
    page_tag_ids = {tag_id for contact_tags in tag_ids.values() for (tag_id,) in contact_tags}
    tags_param = orjson.dumps(list(page_tag_ids)).decode()
    tags = {t[0]: t for t in db.execute(SQLITE_TAGS_SQL, (tags_param,))}
    empty: list[Any] = []
    return [
        (
            *row,
            cf.get(row[1], empty),
            [t[0] for t in tag_ids.get(row[1], empty)],
            notes.get(row[1], empty),
            inboxes.get(row[1], empty),
            (conversations.get(row[1]) or (None,))[0],
        )
        for row in rows
    ], tags


def _read(sync_engine: Engine, workspace_id: int, page: PageParams) -> Page:
    """The page's rows, on a pooled connection, outside any SQLAlchemy transaction (run in a greenlet: one
    greenlet for checkout, read and checkin, where AsyncConnection takes one for each)."""
    with sync_engine.connect() as conn:
        try:
            if conn.dialect.name == "postgresql":
                return _read_postgres(conn, workspace_id, page)
            return _read_sqlite(conn, workspace_id, page)
        except BaseException as exc:  # an error or a cancellation may leave the connection in any state
            conn.invalidate(exc)
            raise


# PostgreSQL: PG_IDS_SQL's plan does not depend on the ids, but the request's transaction may have asked for
# a custom plan of every statement (service.CUSTOM_PLAN: ~1 ms of planning a page for this one).
_PG_GENERIC_PLAN = "SET LOCAL plan_cache_mode = force_generic_plan"


async def _read_ids(conn: AsyncConnection, workspace_id: int, ids: list[int]) -> Page:
    sync = conn.sync_connection
    assert sync is not None
    driver: Any = (await conn.get_raw_connection()).driver_connection
    if conn.dialect.name == "postgresql":
        _announce(sync, _PG_GENERIC_PLAN, ())
        await driver.execute(_PG_GENERIC_PLAN)
        _announce(sync, PG_IDS_SQL, (ids, workspace_id))
        return _pg_page(await driver.fetch(PG_IDS_SQL, ids, workspace_id))
    sql = sqlite_ids_sql(len(ids))
    _announce(sync, sql, (*ids, workspace_id))
    _announce_nested(sync, len(ids))
    db: sqlite3.Connection = driver._conn  # (in this thread: see _read_sqlite)
    with _sqlite_snapshot(db):
        found = {row[1]: row for row in db.execute(sql, (*ids, workspace_id))}
        return _sqlite_nested(db, [found[i] for i in ids if i in found])


# ----------------------------------------------------------------------------------- serializing


def _sid(value: int | None) -> str | None:
    return None if value is None else str(value)


def _inbox(r: Sequence[Any], o: int) -> dict[str, Any]:
    return {
        "id": str(r[o]),
        "createdAt": r[o + 1],
        "updatedAt": r[o + 2],
        "name": r[o + 3],
        "channel": r[o + 4],
        "sourceId": r[o + 5],
        "workspaceId": str(r[o + 6]),
        "status": r[o + 7],
    }


def _conversation(c: Sequence[Any], contact_id: str) -> dict[str, Any]:
    attributes = c[6]
    return {
        "id": str(c[0]),
        "createdAt": c[1],
        "updatedAt": c[2],
        "botEnabled": bool(c[3]),
        "botResumeAt": c[4],
        "archivedAt": c[5],
        # (the stored JSON text, parsed: contacts_out's bytes whatever the database's spacing and escapes)
        "additionalAttributes": None if attributes is None else orjson.loads(attributes),
        "contactLastReadAt": c[7],
        "agentLastReadAt": c[8],
        "lastActivityAt": c[9],
        "followed": bool(c[10]),
        "workspaceId": str(c[11]),
        "contactId": contact_id,
        "adminRepliedAt": c[12],
        "contactRepliedAt": c[13],
        "aiContextLastMessageId": _sid(c[14]),
        "assignedUserId": _sid(c[15]),
        "assignedInboxTeamId": _sid(c[16]),
        "assignedUser": None
        if c[17] is None
        else {
            "id": str(c[17]),
            "createdAt": c[18],
            "updatedAt": c[19],
            "name": c[20],
            "email": c[21],
            "emailVerified": bool(c[22]),
            "image": c[23],
            "isAnonymous": bool(c[24]),
        },
        "assignedInboxTeam": None
        if c[25] is None
        else {
            "id": str(c[25]),
            "createdAt": c[26],
            "updatedAt": c[27],
            "workspaceId": str(c[28]),
            "name": c[29],
        },
        "inbox": None if c[30] is None else _inbox(c, 30),
    }


def _custom_fields(fields: Sequence[Any], contact_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": str(f[0]),
            "createdAt": f[1],
            "updatedAt": f[2],
            "value": f[3],
            "contactId": contact_id,
            "customFieldId": str(f[4]),
        }
        for f in fields
    ]


def _notes(notes: Sequence[Any], contact_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": str(n[0]),
            "createdAt": n[1],
            "updatedAt": n[2],
            "text": n[3],
            "contactId": contact_id,
            "createdById": _sid(n[4]),
        }
        for n in notes
    ]


def _contact_inboxes(inboxes: Sequence[Any], contact_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": str(ci[0]),
            "contactId": contact_id,
            "inboxId": str(ci[1]),
            "channel": ci[6],
            "inbox": _inbox(ci, 2),
        }
        for ci in inboxes
    ]


def _tag(t: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": str(t[0]),
        "createdAt": t[1],
        "updatedAt": t[2],
        "name": t[3],
        "deletedAt": t[4],
        "folderId": _sid(t[5]),
        "workspaceId": str(t[6]),
    }


def _nested(
    contact_id: str,
    fields: Sequence[Any] | None,
    tag_ids: Sequence[int] | None,
    notes: Sequence[Any] | None,
    inboxes: Sequence[Any] | None,
    conversation: Sequence[Any] | None,
    tag_objects: Mapping[int, dict[str, Any]],
) -> dict[str, Any]:
    """A contact's nested lists and latest conversation, the last keys of its object. (A kind's helper is
    called only when the contact has some.)"""
    return {
        "contactCustomFields": _custom_fields(fields, contact_id) if fields else [],
        "tags": [tag_objects[tag_id] for tag_id in tag_ids] if tag_ids else [],
        "contactNotes": _notes(notes, contact_id) if notes else [],
        "contactInboxes": _contact_inboxes(inboxes, contact_id) if inboxes else [],
        "conversation": None if conversation is None else _conversation(conversation, contact_id),
    }


def _tag_objects(tags: Mapping[int, Sequence[Any]]) -> dict[int, dict[str, Any]]:
    """Each of the page's tags' object, built once a page (a page's contacts share a few tags)."""
    return {tag_id: _tag(t) for tag_id, t in tags.items()}


def contacts(rows: Sequence[Sequence[Any]], tags: Mapping[int, Sequence[Any]]) -> list[dict[str, Any]]:
    """The contact objects of PostgreSQL's page rows (see `pg_sql`) with the page's tags by id, in the shape
    of `serialize.contacts_out`. (Written for speed: it runs for every contact of every page.)"""
    tag_objects = _tag_objects(tags)
    out: list[dict[str, Any]] = []
    append = out.append
    for r in rows:
        contact_id = str(r[1])
        contact = {
            "id": contact_id,
            "createdAt": r[2],
            "updatedAt": r[3],
            "avatar": r[4],
            "phoneNumber": r[5],
            "email": r[6],
            "emailVerified": bool(r[7]),
            "emailOptIn": bool(r[8]),
            "firstName": r[9],
            "lastName": r[10],
            "fullName": r[11],
            "gender": r[12],
            "lastReadAt": r[13],
            "ref": r[14],
            "source": r[15],
            "country": r[16],
            "state": r[17],
            "city": r[18],
            "location": r[19],
            "locale": r[20],
            "timezone": r[21],
            "subscribedAt": r[22],
            "broadcastSubscribedAt": r[23],
            "blockedAt": r[24],
            "workspaceId": str(r[25]),
        }
        contact.update(_nested(contact_id, r[26], r[27], r[28], r[29], r[30], tag_objects))
        append(contact)
    return out


def _around_tags() -> tuple[bytes, bytes]:
    """The nested members of a contact with nothing nested but tags (most contacts of most pages), before and
    after its tags' objects."""
    before, _, after = orjson.dumps(_nested("", None, None, None, None, None, {})).partition(b'"tags":[]')
    return before[1:] + b'"tags":[', b"]" + after


_TAGS_BEFORE, _TAGS_AFTER = _around_tags()


def sqlite_json(rows: Sequence[Sequence[Any]], tags: Mapping[int, Sequence[Any]]) -> bytes:
    """The JSON array of SQLite's page rows (see `Page`): each contact's object from the database, its last
    '}' replaced by its nested lists' members. A contact with nothing nested but tags gets its tags' JSON
    (written once a page) joined; any other is written by orjson."""
    tag_objects = _tag_objects(tags)
    tag_json = {tag_id: orjson.dumps(tag) for tag_id, tag in tag_objects.items()}
    objects: list[bytes] = []
    append = objects.append
    for _total, contact_id, head, fields, tag_ids, notes, inboxes, conversation in rows:
        if fields or notes or inboxes or conversation:
            nested = _nested(str(contact_id), fields, tag_ids, notes, inboxes, conversation, tag_objects)
            tail = orjson.dumps(nested, option=orjson.OPT_UTC_Z)[1:]
        else:
            tail = _TAGS_BEFORE + b",".join([tag_json[tag_id] for tag_id in tag_ids]) + _TAGS_AFTER
        append(head.encode()[:-1] + b"," + tail)
    return b"[" + b",".join(objects) + b"]"


def _json(dialect: str, page: Page) -> bytes:
    rows, tags = page
    if dialect == "postgresql":
        return orjson.dumps(contacts(rows, tags), option=orjson.OPT_UTC_Z)
    return sqlite_json(rows, tags)


async def list_page(engine: AsyncEngine, workspace_id: int, page: PageParams) -> tuple[bytes, int]:
    """One page of the workspace's contacts as JSON array bytes, and the page count."""
    found = await greenlet_spawn(_read, engine.sync_engine, workspace_id, page)
    if found[0]:
        total = found[0][0][0] or 0
    else:  # past the last page
        async with engine.connect() as conn:
            total = await service.count_contacts(conn, workspace_id, [Contact.workspace_id == workspace_id])
    return _json(engine.dialect.name, found), page.page_count(total)


async def contacts_json(conn: AsyncConnection, workspace_id: int, ids: Sequence[int]) -> bytes:
    """The workspace's contacts `ids` as a JSON array in that order (every other list page: the filters and
    sorts find the page's ids, see service.list_contacts), the plain page's bytes for the same contacts.

    Read on `conn`, the request's connection: a constant number of statements (PostgreSQL two, SQLite
    seven), in the connection's transaction if it has one (else, on SQLite, in a read transaction of their
    own). A contact deleted since its id was found is left out."""
    if not ids:
        return b"[]"
    return _json(conn.dialect.name, await _read_ids(conn, workspace_id, list(ids)))
