"""The plain contact list (no filter, the default order: the CLI's and UI's usual call) in one round trip.

The page statement (contacts.sqljson, the same SQL as `service.list_contacts` builds) is compiled once per
database and page, and run outside a transaction: a single statement reads one snapshot, so BEGIN and ROLLBACK
would only add two round trips. On PostgreSQL the workspace id is written into the text (an integer), so the
prepared statement has no parameters and PostgreSQL plans it once per connection with the real values; with a
parameter it would either re-plan every call (planning the JSON expression costs more than running it) or
guess a generic plan.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, bindparam, literal_column, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from chatbotx.contacts import service, sqljson
from chatbotx.kit.pagination import PageParams
from chatbotx.models import Contact

_WS = "__workspace_id__"  # where PostgreSQL's text takes the workspace id


@functools.lru_cache(maxsize=256)
def page_sql(dialect: Dialect, per_page: int, offset: int) -> tuple[tuple[str, ...], int]:
    """The page's SQL text split where the workspace id goes (PostgreSQL), or whole with its number of
    workspace id parameters (SQLite)."""
    pg = dialect.name == "postgresql"
    ws: ColumnElement[Any] = literal_column(_WS) if pg else bindparam("ws", type_=BigInteger)
    clauses: list[ColumnElement[bool]] = [Contact.workspace_id == ws]
    count = service.contact_count
    total = select(count.c.n).where(count.c.workspace_id == ws).scalar_subquery()
    stmt = sqljson.page_statement(
        dialect,
        clauses,
        service.DEFAULT_SORT,
        total,
        literal_column(str(int(per_page))),
        literal_column(str(int(offset))),
    )
    compiled = stmt.compile(dialect=dialect)
    return tuple(compiled.string.split(_WS)), len(compiled.positiontup or ())


async def fetch(conn: AsyncConnection, sql: str, parameters: tuple[Any, ...]) -> Sequence[Any]:
    """The rows of `sql` run on the driver's connection, outside any transaction, as SQLAlchemy would announce
    them to the engine's cursor events. A driver error invalidates the connection, as SQLAlchemy's would."""
    sync = conn.sync_connection
    if sync is not None:
        for announce in sync.dispatch.before_cursor_execute:  # as Connection._execute_context calls them
            sql, parameters = announce(sync, None, sql, parameters, None, False)
    driver = (await conn.get_raw_connection()).driver_connection
    try:
        if conn.dialect.name == "postgresql":
            return await driver.fetch(sql, *parameters)  # type: ignore[union-attr]
        return await driver.execute_fetchall(sql, parameters)  # type: ignore[union-attr]
    except BaseException as exc:  # an error or a cancellation may leave the connection in any state
        await conn.invalidate(exc)
        raise


async def list_page(conn: AsyncConnection, workspace_id: int, page: PageParams) -> tuple[str, int]:
    """One page of the workspace's contacts as a JSON array text, and the page count."""
    parts, params = page_sql(conn.dialect, page.per_page, page.offset)
    rows = await fetch(conn, str(int(workspace_id)).join(parts), (workspace_id,) * params)
    if rows:
        total = rows[0][0] or 0
    else:  # past the last page
        total = await service.count_contacts(conn, workspace_id, [Contact.workspace_id == workspace_id])
    return "[" + ",".join(row[1] for row in rows) + "]", page.page_count(total)
