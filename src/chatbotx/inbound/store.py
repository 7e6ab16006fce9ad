"""Storing verified webhook events: one InboundEvent row per (inbox, dedupe key); a repeat is a no-op.

One statement (INSERT ... ON CONFLICT DO NOTHING RETURNING id), built once per dialect: the webhook endpoint
runs it on an autocommit connection (no BEGIN/COMMIT round trips), other callers in their session.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from chatbotx.channels.base import InboundEvent as NormalizedEvent
from chatbotx.inbound import codec
from chatbotx.kit.db import utcnow
from chatbotx.kit.ids import new_id
from chatbotx.models import InboundEvent

INBOUND: Table = InboundEvent.__table__  # type: ignore[assignment]
_sqlite_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
_sqlite_locks = weakref.WeakKeyDictionary()


def sqlite_writes() -> asyncio.Lock:
    """SQLite has one writer at a time: the webhook inserts and the inbound batches of this process take turns
    on this lock (one per event loop) instead of meeting on the database's lock, whose busy handler sleeps
    in steps of up to 100 ms and so leaves the database idle while writers wait."""
    loop = asyncio.get_running_loop()
    lock = _sqlite_locks.get(loop)
    if lock is None:
        lock = _sqlite_locks[loop] = asyncio.Lock()
    return lock


_INSERTS: dict[str, Insert] = {}


def _insert(dialect: str) -> Insert:
    stmt = _INSERTS.get(dialect)
    if stmt is None:
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = _INSERTS[dialect] = (
            module.insert(INBOUND)
            .on_conflict_do_nothing(index_elements=["inbox_id", "dedupe_key"])
            .returning(INBOUND.c.id)
        )
    return stmt


def rows_for(workspace_id: int, inbox_id: int, events: Sequence[NormalizedEvent]) -> list[dict[str, Any]]:
    """Rows in the order the provider sent them (ids increase), a key repeated in one webhook kept once."""
    now = utcnow()
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for event in events:
        key = codec.dedupe_key(event)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "id": new_id(),
                "workspace_id": workspace_id,
                "inbox_id": inbox_id,
                "dedupe_key": key,
                "kind": codec.kind_of(event),
                "payload": codec.encode(event),
                "status": "pending",
                "attempts": 0,
                "received_at": now,
            }
        )
    return rows


async def store_events(
    session: AsyncSession, workspace_id: int, inbox_id: int, events: Sequence[NormalizedEvent]
) -> int:
    """Insert the events not seen before (INSERT ... ON CONFLICT DO NOTHING) in `session`'s transaction; how
    many were new."""
    rows = rows_for(workspace_id, inbox_id, events)
    if not rows:
        return 0
    stmt = _insert(session.get_bind().dialect.name)
    result = await session.execute(stmt, rows[0] if len(rows) == 1 else rows)
    return len(result.all())


async def insert_events(
    conn: AsyncConnection, workspace_id: int, inbox_id: int, events: Sequence[NormalizedEvent]
) -> int:
    """`store_events` on a connection (the caller commits, or runs it in autocommit: it is one statement)."""
    rows = rows_for(workspace_id, inbox_id, events)
    if not rows:
        return 0
    result = await conn.execute(_insert(conn.dialect.name), rows[0] if len(rows) == 1 else rows)
    return len(result.all())
