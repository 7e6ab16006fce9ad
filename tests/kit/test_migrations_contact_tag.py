"""PostgreSQL migrations 0009 to 0011: the statement-level reference checks of contact_tag (to contact and
tag) and of contact (to workspace) keep the foreign keys' guarantee (no link without its contact and its
tag, no contact without its workspace, also against concurrent deletes), and the inlinable
contact_search_text() gives 0008's text."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from chatbotx.kit.migrate import upgrade_async

POSTGRES_URL = os.environ.get("CHATBOTX_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="CHATBOTX_TEST_POSTGRES_URL is not set"),
]
NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
_ids = itertools.count(1000)


def _dsn(url: str, database: str) -> str:
    return make_url(url).set(drivername="postgresql", database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
async def dsn() -> AsyncIterator[str]:
    """A fresh database migrated to head (asyncpg DSN)."""
    assert POSTGRES_URL
    name = f"chatbotx_test_ct_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(_dsn(POSTGRES_URL, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await upgrade_async(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
        yield _dsn(POSTGRES_URL, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def conn(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(dsn)
    yield connection
    await connection.close()


async def _workspace(conn: asyncpg.Connection) -> int:
    workspace_id = next(_ids)
    await conn.execute(
        "INSERT INTO workspace (id, name, timezone, created_at, updated_at) VALUES ($1, 'w', 'UTC', $2, $2)",
        workspace_id,
        NOW,
    )
    return workspace_id


async def _contact(conn: asyncpg.Connection, workspace_id: int) -> int:
    contact_id = next(_ids)
    await conn.execute(
        "INSERT INTO contact (id, workspace_id, email_verified, email_opt_in, created_at, updated_at)"
        " VALUES ($1, $2, false, true, $3, $3)",
        contact_id,
        workspace_id,
        NOW,
    )
    return contact_id


async def _tag(conn: asyncpg.Connection, workspace_id: int) -> int:
    tag_id = next(_ids)
    await conn.execute(
        "INSERT INTO tag (id, workspace_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        tag_id,
        workspace_id,
        f"t{tag_id}",
        NOW,
    )
    return tag_id


async def _link(conn: asyncpg.Connection, contact_id: int, tag_id: int) -> None:
    insert = "INSERT INTO contact_tag (contact_id, tag_id, created_at) VALUES ($1, $2, $3)"
    await conn.execute(insert, contact_id, tag_id, NOW)


async def _links(
    conn: asyncpg.Connection, *, contact_id: int | None = None, tag_id: int | None = None
) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM contact_tag WHERE contact_id = $1 OR tag_id = $2", contact_id, tag_id
        )
    )


async def _orphans(conn: asyncpg.Connection) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM contact_tag l"
            " WHERE NOT EXISTS (SELECT 1 FROM contact c WHERE c.id = l.contact_id)"
            " OR NOT EXISTS (SELECT 1 FROM tag t WHERE t.id = l.tag_id)"
        )
    )


async def _waiting_on_a_lock(conn: asyncpg.Connection, pid: int) -> None:
    """Until backend `pid` waits on a lock (the other transaction's row lock)."""
    for _ in range(200):
        if await conn.fetchval("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", pid) == "Lock":
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the statement did not wait for the other transaction")


async def test_a_link_needs_its_contact_and_its_tag(conn: asyncpg.Connection) -> None:
    workspace_id = await _workspace(conn)
    contact_id, tag_id = await _contact(conn, workspace_id), await _tag(conn, workspace_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match='table "contact"'):
        await _link(conn, next(_ids), tag_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match='table "tag"'):
        await _link(conn, contact_id, next(_ids))
    # One bad row fails the whole statement (a COPY of many links, as the import writes them).
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.copy_records_to_table(
            "contact_tag",
            records=[(contact_id, tag_id, NOW), (next(_ids), tag_id, NOW)],
            columns=["contact_id", "tag_id", "created_at"],
        )
    await _link(conn, contact_id, tag_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.execute("UPDATE contact_tag SET tag_id = $1 WHERE contact_id = $2", next(_ids), contact_id)
    assert await _links(conn, contact_id=contact_id) == 1


async def test_contacts_and_tags_created_in_the_same_transaction(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        workspace_id = await _workspace(conn)
        contact_id, tag_id = await _contact(conn, workspace_id), await _tag(conn, workspace_id)
        await _link(conn, contact_id, tag_id)
    assert await _links(conn, contact_id=contact_id) == 1
    # Deleted again in the transaction that created it: its link is refused.
    async with conn.transaction():
        other = await _contact(conn, workspace_id)
        await conn.execute("DELETE FROM contact WHERE id = $1", other)
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await _link(conn, other, tag_id)


async def test_deletes_cascade_to_the_links(conn: asyncpg.Connection) -> None:
    workspace_id = await _workspace(conn)
    contacts = [await _contact(conn, workspace_id) for _ in range(3)]
    tags = [await _tag(conn, workspace_id) for _ in range(2)]
    for contact_id in contacts:
        for tag_id in tags:
            await _link(conn, contact_id, tag_id)
    await conn.execute("DELETE FROM contact WHERE id = $1", contacts[0])
    assert await _links(conn, contact_id=contacts[0]) == 0
    await conn.execute("DELETE FROM tag WHERE id = $1", tags[0])
    assert await _links(conn, tag_id=tags[0]) == 0
    assert await _links(conn, contact_id=contacts[1]) == 1
    await conn.execute("DELETE FROM workspace WHERE id = $1", workspace_id)  # cascades to contacts and tags
    assert await _links(conn, contact_id=contacts[1]) == 0
    assert await _orphans(conn) == 0


async def test_a_referenced_id_cannot_change(conn: asyncpg.Connection) -> None:
    workspace_id = await _workspace(conn)
    contact_id, tag_id = await _contact(conn, workspace_id), await _tag(conn, workspace_id)
    await _link(conn, contact_id, tag_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.execute("UPDATE contact SET id = $1 WHERE id = $2", next(_ids), contact_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.execute("UPDATE tag SET id = $1 WHERE id = $2", next(_ids), tag_id)
    unlinked = await _contact(conn, workspace_id)
    await conn.execute("UPDATE contact SET id = $1 WHERE id = $2", next(_ids), unlinked)


@pytest.mark.parametrize("table", ["contact", "tag"])
async def test_a_delete_waits_for_a_link_being_written_then_removes_it(dsn: str, table: str) -> None:
    """The link's check locks its contact and tag: without that lock the delete would not wait, and the link,
    committed after the delete's cascade ran, would be left pointing at nothing."""
    writer, deleter = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        workspace_id = await _workspace(writer)
        contact_id, tag_id = await _contact(writer, workspace_id), await _tag(writer, workspace_id)
        linking = writer.transaction()
        await linking.start()
        await _link(writer, contact_id, tag_id)
        target = contact_id if table == "contact" else tag_id
        deleted = asyncio.ensure_future(deleter.execute(f"DELETE FROM {table} WHERE id = $1", target))
        await _waiting_on_a_lock(writer, deleter.get_server_pid())
        await linking.commit()
        await deleted
        assert await _links(writer, contact_id=contact_id, tag_id=tag_id) == 0
        assert await _orphans(writer) == 0
    finally:
        await writer.close()
        await deleter.close()


@pytest.mark.parametrize("table", ["contact", "tag"])
async def test_a_link_to_a_row_being_deleted_fails_once_the_delete_commits(dsn: str, table: str) -> None:
    writer, deleter = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        workspace_id = await _workspace(writer)
        contact_id, tag_id = await _contact(writer, workspace_id), await _tag(writer, workspace_id)
        deleting = deleter.transaction()
        await deleting.start()
        target = contact_id if table == "contact" else tag_id
        await deleter.execute(f"DELETE FROM {table} WHERE id = $1", target)
        linked = asyncio.ensure_future(_link(writer, contact_id, tag_id))
        await _waiting_on_a_lock(deleter, writer.get_server_pid())
        await deleting.commit()
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await linked
        assert await _orphans(writer) == 0
    finally:
        await writer.close()
        await deleter.close()


async def test_a_delete_under_repeatable_read_is_refused(conn: asyncpg.Connection) -> None:
    """Its cascade could not see links committed after its snapshot: refused rather than orphaning them."""
    workspace_id = await _workspace(conn)
    contact_id, tag_id = await _contact(conn, workspace_id), await _tag(conn, workspace_id)
    await _link(conn, contact_id, tag_id)
    with pytest.raises(asyncpg.SerializationError, match="READ COMMITTED"):
        async with conn.transaction(isolation="repeatable_read"):
            await conn.execute("DELETE FROM contact WHERE id = $1", contact_id)
    async with conn.transaction(isolation="repeatable_read"):  # deleting nothing is fine
        await conn.execute("DELETE FROM contact WHERE id = $1", next(_ids))
    assert await _links(conn, contact_id=contact_id) == 1


async def test_truncating_tags_truncates_the_links(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        workspace_id = await _workspace(conn)
        contact_id, tag_id = await _contact(conn, workspace_id), await _tag(conn, workspace_id)
        await _link(conn, contact_id, tag_id)
        await conn.execute("TRUNCATE tag")
        assert await conn.fetchval("SELECT count(*) FROM contact_tag") == 0
    finally:
        await conn.close()


async def test_contact_search_text_is_inlined_and_unchanged(conn: asyncpg.Connection) -> None:
    values = [None, "", "Ada", "ADA", "Lovelace", "Ada Lovelace", "ada lovelace", "Ädä"]
    old = (
        "SELECT CASE WHEN lower(coalesce($3, ''))"
        " = concat_ws(' ', lower(nullif($1, '')), lower(nullif($2, '')))"
        " THEN lower(coalesce($3, '')) ELSE lower(coalesce($1, '')) || chr(31) || lower(coalesce($2, ''))"
        " || chr(31) || lower(coalesce($3, '')) END || chr(31) || lower(coalesce($4, '')) || chr(31)"
        " || lower(coalesce($5, ''))"
    )
    new = "SELECT contact_search_text($1, $2, $3, $4, $5)"
    for first, last, full in itertools.product(values, repeat=3):
        args = (first, last, full, "A@Example.org", "+1555")
        assert await conn.fetchval(new, *args) == await conn.fetchval(old, *args), args
    # Inlined: the plan computes the expression itself, no call to the SQL function.
    plan = await conn.fetchval(
        "EXPLAIN (VERBOSE, FORMAT JSON) SELECT contact_search_text(first_name, last_name, full_name, email,"
        " phone_number) FROM contact"
    )
    assert "contact_search_text" not in str(plan)


async def test_a_contact_needs_its_workspace(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError, match='table "workspace"'):
        await _contact(conn, next(_ids))
    workspace_id = await _workspace(conn)
    contact_id = await _contact(conn, workspace_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match='table "workspace"'):
        await conn.execute("UPDATE contact SET workspace_id = $1 WHERE id = $2", next(_ids), contact_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.execute("UPDATE workspace SET id = $1 WHERE id = $2", next(_ids), workspace_id)
    other = await _workspace(conn)
    await conn.execute("UPDATE contact SET workspace_id = $1 WHERE id = $2", other, contact_id)
    await conn.execute("UPDATE workspace SET id = $1 WHERE id = $2", next(_ids), workspace_id)  # now unused


async def test_a_workspace_delete_waits_for_a_contact_being_written_then_removes_it(dsn: str) -> None:
    """Without the check's lock the delete would not wait, and the contact would outlive its workspace."""
    writer, deleter = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        workspace_id = await _workspace(writer)
        adding = writer.transaction()
        await adding.start()
        contact_id = await _contact(writer, workspace_id)
        deleted = asyncio.ensure_future(deleter.execute("DELETE FROM workspace WHERE id = $1", workspace_id))
        await _waiting_on_a_lock(writer, deleter.get_server_pid())
        await adding.commit()
        await deleted
        assert await writer.fetchval("SELECT count(*) FROM contact WHERE id = $1", contact_id) == 0
    finally:
        await writer.close()
        await deleter.close()


async def test_a_contact_in_a_workspace_being_deleted_fails_once_the_delete_commits(dsn: str) -> None:
    writer, deleter = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        workspace_id = await _workspace(writer)
        deleting = deleter.transaction()
        await deleting.start()
        await deleter.execute("DELETE FROM workspace WHERE id = $1", workspace_id)
        added = asyncio.ensure_future(_contact(writer, workspace_id))
        await _waiting_on_a_lock(deleter, writer.get_server_pid())
        await deleting.commit()
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await added
    finally:
        await writer.close()
        await deleter.close()


async def test_a_workspace_delete_under_repeatable_read_is_refused(conn: asyncpg.Connection) -> None:
    workspace_id = await _workspace(conn)
    await _contact(conn, workspace_id)
    with pytest.raises(asyncpg.SerializationError, match="READ COMMITTED"):
        async with conn.transaction(isolation="repeatable_read"):
            await conn.execute("DELETE FROM workspace WHERE id = $1", workspace_id)
