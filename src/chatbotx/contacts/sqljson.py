"""listContacts pages serialized by the database: one statement returns each contact of the page as JSON text
(seed 002's full object, nested lists included) beside the total, so Python only joins the texts.

The output equals `serialize.contacts_out` + `dumps_json` as parsed JSON (tests/contacts/test_sqljson.py):
same keys, ids as strings, timestamps as ISO 8601 UTC with Z and microseconds only when non-zero (orjson's
format), booleans never null, the same nested orders. PostgreSQL uses json_build_object/json_agg; SQLite its
built-in JSON1 (json_object/json_group_array; values read back from a subquery are re-marked with json()).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    case,
    cast,
    column,
    func,
    literal_column,
    null,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from chatbotx.contacts.serialize import CONTACT_COLUMNS
from chatbotx.models import (
    Contact,
    ContactCustomField,
    ContactInbox,
    ContactNote,
    ContactTag,
    Conversation,
    Inbox,
    Tag,
    Team,
    User,
)

Cols = Any  # a ColumnCollection (table.c or subquery.c)


def _lit(text: str) -> ColumnElement[Any]:
    """An SQL string literal (constants only): keeps keys and formats out of the bind parameters."""
    return literal_column("'" + text.replace("'", "''") + "'")


class JsonSql:
    """JSON-building SQL for one database: PostgreSQL (`pg=True`) or SQLite."""

    def __init__(self, pg: bool):
        self.pg = pg

    def obj(self, pairs: dict[str, ColumnElement[Any]]) -> ColumnElement[Any]:
        args: list[ColumnElement[Any]] = []
        for key, value in pairs.items():
            args += [_lit(key), value]
        return func.json_build_object(*args) if self.pg else func.json_object(*args)

    def ts(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """orjson's datetime text (OPT_UTC_Z): 2026-01-02T03:04:05.123456Z, or ...:05Z on a whole second."""
        text: ColumnElement[Any]
        if self.pg:
            text = func.to_char(func.timezone(_lit("UTC"), column), _lit('YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        else:
            # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC, see kit.db).
            text = func.replace(column, _lit(" "), _lit("T")).op("||")(_lit("Z"))
        return func.replace(text, _lit(".000000Z"), _lit("Z"))

    def sid(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """An id as a JSON string (null stays null)."""
        return cast(column, Text)

    def flag(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON boolean, false for NULL (like bool(None))."""
        if self.pg:
            return column.is_(True)
        return func.json(func.iif(column, _lit("true"), _lit("false")))

    def raw(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON column's value embedded as JSON."""
        return column if self.pg else func.json(column)

    def nested(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON value read from a scalar subquery (SQLite forgets it is JSON on the way out)."""
        return value if self.pg else func.json(value)

    def array(
        self,
        rows: Select[Any],
        build: Callable[[Cols], ColumnElement[Any]],
        order: Callable[[Cols], Sequence[ColumnElement[Any]]],
        outer: Any,
        name: str,
    ) -> ColumnElement[Any]:
        """A JSON array of `build(row)` over `rows` (correlated to `outer`) in `order`; [] when empty."""
        if self.pg:
            sub = rows.correlate(outer).subquery(name)
            agg = func.json_agg(aggregate_order_by(build(sub.c), *order(sub.c)))
            value = select(agg).select_from(sub).scalar_subquery()
            return func.coalesce(value, literal_column("'[]'::json"))
        # SQLite 3.40 has no ORDER BY inside aggregates: aggregate an ordered subquery (an aggregate over a
        # subquery with ORDER BY is never flattened, so the rows arrive in that order).
        ordered = rows.order_by(*order(rows.selected_columns)).correlate(outer).subquery(name)
        value = select(func.json_group_array(build(ordered.c))).select_from(ordered).scalar_subquery()
        return func.json(func.coalesce(value, _lit("[]")))


# ----------------------------------------------------------------------------------- the object parts


def _inbox(j: JsonSql, i: Cols) -> ColumnElement[Any]:
    return j.obj(
        {
            "id": j.sid(i.id),
            "createdAt": j.ts(i.created_at),
            "updatedAt": j.ts(i.updated_at),
            "name": i.name,
            "channel": i.channel,
            "sourceId": i.source_id,
            "workspaceId": j.sid(i.workspace_id),
            "status": i.status,
        }
    )


def _custom_fields(j: JsonSql, p: Any) -> ColumnElement[Any]:
    f = ContactCustomField.__table__.c
    rows = select(f.id, f.created_at, f.updated_at, f.value, f.contact_id, f.custom_field_id).where(
        f.contact_id == p.c.id
    )
    return j.array(
        rows,
        lambda r: j.obj(
            {
                "id": j.sid(r.id),
                "createdAt": j.ts(r.created_at),
                "updatedAt": j.ts(r.updated_at),
                "value": r.value,
                "contactId": j.sid(r.contact_id),
                "customFieldId": j.sid(r.custom_field_id),
            }
        ),
        lambda r: [r.id],
        p,
        "cf",
    )


def _tags(j: JsonSql, p: Any) -> ColumnElement[Any]:
    t = Tag.__table__.c
    ct = ContactTag.__table__.c
    rows = (
        select(t.id, t.created_at, t.updated_at, t.name, t.deleted_at, t.folder_id, t.workspace_id)
        .select_from(ContactTag.__table__)
        .join(Tag.__table__, t.id == ct.tag_id)
        .where(ct.contact_id == p.c.id, t.deleted_at.is_(None))
    )
    return j.array(
        rows,
        lambda r: j.obj(
            {
                "id": j.sid(r.id),
                "createdAt": j.ts(r.created_at),
                "updatedAt": j.ts(r.updated_at),
                "name": r.name,
                "deletedAt": j.ts(r.deleted_at),
                "folderId": j.sid(r.folder_id),
                "workspaceId": j.sid(r.workspace_id),
            }
        ),
        lambda r: [r.name],
        p,
        "tg",
    )


def _notes(j: JsonSql, p: Any) -> ColumnElement[Any]:
    n = ContactNote.__table__.c
    rows = select(n.id, n.created_at, n.updated_at, n.text, n.contact_id, n.created_by_id).where(
        n.contact_id == p.c.id
    )
    return j.array(
        rows,
        lambda r: j.obj(
            {
                "id": j.sid(r.id),
                "createdAt": j.ts(r.created_at),
                "updatedAt": j.ts(r.updated_at),
                "text": r.text,
                "contactId": j.sid(r.contact_id),
                "createdById": j.sid(r.created_by_id),
            }
        ),
        lambda r: [r.created_at.desc(), r.id.desc()],
        p,
        "nt",
    )


def _inbox_cols(prefix: str) -> list[Any]:
    i = Inbox.__table__.c
    names = ("id", "created_at", "updated_at", "name", "channel", "source_id", "workspace_id", "status")
    return [i[name].label(f"{prefix}{name}") for name in names]


class _Prefixed:
    """Columns of a subquery read without their label prefix (i_name -> name)."""

    def __init__(self, cols: Cols, prefix: str):
        self.cols, self.prefix = cols, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cols, self.prefix + name)


def _contact_inboxes(j: JsonSql, p: Any) -> ColumnElement[Any]:
    ci = ContactInbox.__table__.c
    rows = (
        select(ci.id, ci.created_at, ci.contact_id, ci.inbox_id, *_inbox_cols("i_"))
        .select_from(ContactInbox.__table__)
        .join(Inbox.__table__, Inbox.__table__.c.id == ci.inbox_id)
        .where(ci.contact_id == p.c.id)
    )
    return j.array(
        rows,
        lambda r: j.obj(
            {
                "id": j.sid(r.id),
                "contactId": j.sid(r.contact_id),
                "inboxId": j.sid(r.inbox_id),
                "channel": r.i_channel,
                "inbox": _inbox(j, _Prefixed(r, "i_")),
            }
        ),
        lambda r: [r.created_at, r.id],
        p,
        "ci",
    )


def _conversation(j: JsonSql, p: Any) -> ColumnElement[Any]:
    """The latest conversation (by lastActivityAt, then id) with assignee, team and inbox; or null."""
    cv = Conversation.__table__.c
    u = User.__table__.c
    t = Team.__table__.c
    i = Inbox.__table__.c
    user = j.obj(
        {
            "id": j.sid(u.id),
            "createdAt": j.ts(u.created_at),
            "updatedAt": j.ts(u.updated_at),
            "name": u.name,
            "email": u.email,
            "emailVerified": j.flag(u.email_verified),
            "image": u.image,
            "isAnonymous": j.flag(u.is_anonymous),
        }
    )
    team = j.obj(
        {
            "id": j.sid(t.id),
            "createdAt": j.ts(t.created_at),
            "updatedAt": j.ts(t.updated_at),
            "workspaceId": j.sid(t.workspace_id),
            "name": t.name,
        }
    )

    def unless_missing(key: ColumnElement[Any], value: ColumnElement[Any]) -> ColumnElement[Any]:
        return case((key.is_(None), null()), else_=value)

    value = j.obj(
        {
            "id": j.sid(cv.id),
            "createdAt": j.ts(cv.created_at),
            "updatedAt": j.ts(cv.updated_at),
            "botEnabled": j.flag(cv.bot_enabled),
            "botResumeAt": j.ts(cv.bot_resume_at),
            "archivedAt": j.ts(cv.archived_at),
            "additionalAttributes": j.raw(cv.additional_attributes),
            "contactLastReadAt": j.ts(cv.contact_last_read_at),
            "agentLastReadAt": j.ts(cv.agent_last_read_at),
            "lastActivityAt": j.ts(cv.last_activity_at),
            "followed": j.flag(cv.followed),
            "workspaceId": j.sid(cv.workspace_id),
            "contactId": j.sid(cv.contact_id),
            "adminRepliedAt": j.ts(cv.admin_replied_at),
            "contactRepliedAt": j.ts(cv.contact_replied_at),
            "aiContextLastMessageId": j.sid(cv.ai_context_last_message_id),
            "assignedUserId": j.sid(cv.assigned_user_id),
            "assignedInboxTeamId": j.sid(cv.assigned_team_id),
            "assignedUser": unless_missing(u.id, user),
            "assignedInboxTeam": unless_missing(t.id, team),
            "inbox": unless_missing(i.id, _inbox(j, i)),
        }
    )
    latest = (
        select(value)
        .select_from(Conversation.__table__)
        .outerjoin(User.__table__, u.id == cv.assigned_user_id)
        .outerjoin(Team.__table__, t.id == cv.assigned_team_id)
        .outerjoin(Inbox.__table__, i.id == cv.inbox_id)
        .where(cv.contact_id == p.c.id)
        .order_by(cv.last_activity_at.desc(), cv.id.desc())
        .limit(1)
        .correlate(p)
        .scalar_subquery()
    )
    return j.nested(latest)


def contact_object(j: JsonSql, p: Any) -> ColumnElement[Any]:
    """The full contact object of a row of `p` (a subquery of CONTACT_COLUMNS) as JSON."""
    c = p.c
    return j.obj(
        {
            "id": j.sid(c.id),
            "createdAt": j.ts(c.created_at),
            "updatedAt": j.ts(c.updated_at),
            "avatar": c.avatar,
            "phoneNumber": c.phone_number,
            "email": c.email,
            "emailVerified": j.flag(c.email_verified),
            "emailOptIn": j.flag(c.email_opt_in),
            "firstName": c.first_name,
            "lastName": c.last_name,
            "fullName": c.full_name,
            "gender": c.gender,
            "lastReadAt": j.ts(c.last_read_at),
            "ref": c.ref,
            "source": c.source,
            "country": c.country,
            "state": c.state,
            "city": c.city,
            "location": c.location,
            "locale": c.locale,
            "timezone": c.timezone,
            "subscribedAt": j.ts(c.subscribed_at),
            "broadcastSubscribedAt": j.ts(c.broadcast_subscribed_at),
            "blockedAt": j.ts(c.blocked_at),
            "workspaceId": j.sid(c.workspace_id),
            "contactCustomFields": _custom_fields(j, p),
            "tags": _tags(j, p),
            "contactNotes": _notes(j, p),
            "contactInboxes": _contact_inboxes(j, p),
            "conversation": _conversation(j, p),
        }
    )


def _page_table() -> Any:
    """A stand-in named `p` with the contact columns: the JSON SQL is compiled against it once."""
    return table("p", *(column(c.name, c.type) for c in CONTACT_COLUMNS))


@functools.cache
def contact_json_sql(dialect: Dialect) -> str:
    """The SQL text of `contact_object` over a FROM item named `p`, compiled once per database."""
    p = _page_table()
    stmt = select(cast(contact_object(JsonSql(dialect.name == "postgresql"), p), Text).label("data"))
    sql = str(stmt.select_from(p).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    head, tail = "SELECT ", " AS data \nFROM p"
    if not (sql.startswith(head) and sql.endswith(tail)):
        raise AssertionError(f"unexpected SQL shape: {sql[:40]}...{sql[-40:]}")
    return sql[len(head) : -len(tail)]


def page_statement(
    dialect: Dialect,
    clauses: Sequence[ColumnElement[bool]],
    order: Sequence[ColumnElement[Any]],
    total: ColumnElement[Any],
    limit: int | ColumnElement[Any],
    offset: int | ColumnElement[Any],
) -> Select[Any]:
    """Rows of (total, contact JSON text) for one page, in the page's order; no rows past the end.

    The page is cut first (a CTE of plain columns), so only its rows pay for the nested objects. The JSON part
    is a fixed SQL text, so building and cache-keying this statement stays as cheap as a plain page query.
    """
    page = select(*CONTACT_COLUMNS).where(*clauses).order_by(*order).limit(limit).offset(offset).cte("p")
    return (
        select(total.label("total"), literal_column(contact_json_sql(dialect)).label("data"))
        .select_from(page)
        .order_by(*(_on(page, o) for o in order))
    )


def filtered_page_statement(
    dialect: Dialect,
    clauses: Sequence[ColumnElement[bool]],
    order: Sequence[ColumnElement[Any]],
    limit: int,
    offset: int,
) -> Select[Any]:
    """`page_statement` for filtered lists: the matches are found once (a materialized CTE) and both the
    exact total and the page are taken from them.

    The exact total reads every match anyway; and without the fence, ORDER BY created_at LIMIT n over a
    keyword tempts PostgreSQL into walking the created_at index past every contact when a rare keyword's
    estimate is off (0.7 s at a million contacts instead of the trigram indexes' 30 ms)."""
    # Only the id and the sort keys are kept for every match; full rows are read for the page alone.
    keys: dict[str, Any] = {"id": Contact.id}
    for clause in order:
        element = clause.element if isinstance(clause, UnaryExpression) else clause
        keys.setdefault(str(element.key), element)
    matches = select(*keys.values()).where(*clauses).cte("m")
    if dialect.name == "postgresql":
        matches = matches.prefix_with("MATERIALIZED")
    page_ids: Select[Any] = (
        select(literal_column("m.id"))
        .select_from(matches)
        .order_by(*(_on(matches, o) for o in order))
        .limit(limit)
        .offset(offset)
    )
    page = select(*CONTACT_COLUMNS).where(Contact.id.in_(page_ids)).cte("p")
    total = select(func.count()).select_from(matches).scalar_subquery()
    return (
        select(total.label("total"), literal_column(contact_json_sql(dialect)).label("data"))
        .select_from(page)
        .order_by(*(_on(page, o) for o in order))
    )


def _on(page: Any, clause: Any) -> ColumnElement[Any]:
    """`clause` (a contact column, ascending or descending) on the page CTE's column of the same name.

    Written as text: the CTE's column collection (or a ClauseAdapter) costs ~1 ms a request to build."""
    desc = isinstance(clause, UnaryExpression) and clause.modifier is operators.desc_op
    element = clause.element if isinstance(clause, UnaryExpression) else clause
    target: ColumnElement[Any] = literal_column(f"{page.name}.{element.key}")
    return target.desc() if desc else target
