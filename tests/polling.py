"""Bounded waits for background work in tests (a bound, not a timing assertion)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select

from chatbotx.kit import db
from chatbotx.models import InboundEvent


async def wait_for(check: Callable[[], Awaitable[Any]], limit: float = 15.0) -> Any:
    """Poll `check` until it returns something truthy, and return that; fails after `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def no_pending(inbox_id: int) -> bool:
    """Whether the inbox has no inbound event left to process."""
    async with db.get_database().sessionmaker() as session:
        stmt = (
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.inbox_id == inbox_id, InboundEvent.status == "pending")
        )
        return not await session.scalar(stmt)
