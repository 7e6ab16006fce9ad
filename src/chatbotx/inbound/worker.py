"""Running the inbound job: drain an inbox's pending events in order; the sweeper re-kicks forgotten ones."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from chatbotx.channels import registry
from chatbotx.channels.context import channel_context
from chatbotx.inbound.batch import download_for, process_batch
from chatbotx.inbound.service import Channel, PendingRow
from chatbotx.inbound.store import sqlite_writes
from chatbotx.kit.db import get_database, utcnow
from chatbotx.models import InboundEvent, Inbox

log = logging.getLogger("chatbotx.inbound")

BATCH = 200
SWEEP_AFTER = dt.timedelta(seconds=30)
SWEEP_EVERY = 15.0
# A busy inbox (events arrived during the last pass) waits this long before its next pass, so that the pass
# handles a batch rather than the one or two events that arrived meanwhile: under load a batch's fixed cost
# (about fifteen statements) is shared by many events; at rest nothing waits.
GATHER = 0.02

# Inboxes being drained in this process -> whether another kick arrived meanwhile (drain again).
_running: dict[int, bool] = {}


async def load_channel(inbox_id: int) -> Channel | None:
    async with get_database().sessionmaker() as session:
        inbox = await session.get(Inbox, inbox_id)
    if inbox is None:
        return None
    adapter = registry.get(inbox.channel)
    return Channel(inbox, adapter, channel_context(inbox) if adapter is not None else None)


async def _pending(inbox_id: int, after: int) -> list[PendingRow]:
    async with get_database().sessionmaker() as session:
        rows = await session.execute(
            select(
                InboundEvent.id,
                InboundEvent.kind,
                InboundEvent.payload,
                InboundEvent.attempts,
                InboundEvent.received_at,
            )
            .where(
                InboundEvent.status == "pending", InboundEvent.inbox_id == inbox_id, InboundEvent.id > after
            )
            .order_by(InboundEvent.id)
            .limit(BATCH)
        )
        return [PendingRow(*row) for row in rows]


async def drain(inbox_id: int) -> int:
    """Handle each event of the inbox pending now, oldest first, once per call, in batches of up to BATCH
    events (one transaction each); how many were handled. Rows left pending (a receipt whose message is not
    known yet) wait for the next drain."""
    channel = await load_channel(inbox_id)
    if channel is None:
        return 0
    handled = 0
    after = 0
    sqlite = get_database().engine.dialect.name == "sqlite"
    while rows := await _pending(inbox_id, after):
        after = rows[-1].id
        if sqlite:
            downloads = await download_for(channel, rows)  # no provider call inside the write turn
            async with sqlite_writes():
                handled += await process_batch(channel, rows, downloads)
        else:
            handled += await process_batch(channel, rows)
    return handled


def drain_again(inbox_id: int) -> bool:
    """If this process is draining the inbox, make it pass once more (it will see rows committed before this
    call); whether it was."""
    if inbox_id in _running:
        _running[inbox_id] = True
        return True
    return False


async def process_inbox(inbox_id: int) -> int:
    """The job: drain the inbox. Kicks arriving while this process drains it only ask for another pass,
    so a burst of webhooks costs one loop, in order."""
    if inbox_id in _running:
        _running[inbox_id] = True
        return 0
    _running[inbox_id] = False
    handled = 0
    try:
        while True:
            handled += await drain(inbox_id)
            if not _running[inbox_id]:
                return handled
            _running[inbox_id] = False
            await asyncio.sleep(GATHER)
    finally:
        del _running[inbox_id]


async def stale_inboxes(older_than: dt.timedelta = SWEEP_AFTER) -> list[int]:
    """Inboxes with events still pending `older_than` after they arrived (a lost job, a crash, a retry)."""
    async with get_database().sessionmaker() as session:
        rows = await session.execute(
            select(InboundEvent.inbox_id)
            .where(InboundEvent.status == "pending", InboundEvent.received_at < utcnow() - older_than)
            .distinct()
        )
        return [row[0] for row in rows]


async def sweep(kick: Callable[[int], Awaitable[None]], older_than: dt.timedelta = SWEEP_AFTER) -> list[int]:
    inboxes = await stale_inboxes(older_than)
    for inbox_id in inboxes:
        await kick(inbox_id)
    return inboxes


async def run_sweeper(kick: Callable[[int], Awaitable[None]], every: float = SWEEP_EVERY) -> None:
    """Forever: re-kick inboxes with stale pending events (cancel the task to stop)."""
    while True:
        try:
            await sweep(kick)
        except Exception:  # a database blip: try again next round
            log.exception("inbound sweeper failed")
        await asyncio.sleep(every)
