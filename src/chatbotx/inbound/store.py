"""Storing verified webhook events: one InboundEvent row per (inbox, dedupe key); a repeat is a no-op."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.channels.base import InboundEvent as NormalizedEvent
from chatbotx.inbound import codec
from chatbotx.kit.db import utcnow
from chatbotx.kit.ids import new_id
from chatbotx.models import InboundEvent


def _insert(session: AsyncSession) -> Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(InboundEvent).on_conflict_do_nothing(
            index_elements=["inbox_id", "dedupe_key"]
        )
    return sqlite.insert(InboundEvent).on_conflict_do_nothing(index_elements=["inbox_id", "dedupe_key"])


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
    """Insert the events not seen before (INSERT ... ON CONFLICT DO NOTHING); how many were new."""
    rows = rows_for(workspace_id, inbox_id, events)
    if not rows:
        return 0
    result = await session.execute(_insert(session).returning(InboundEvent.id), rows)
    return len(result.all())
