"""Jobs: `inbound.process` drains an inbox's pending webhook events; the sweeper re-kicks forgotten ones."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.inbound import worker
from chatbotx.kit import jobs


@jobs.broker.task(task_name="inbound.process")
async def process(inbox_id: int) -> int:
    return await worker.process_inbox(int(inbox_id))


def kick_after_commit(session: AsyncSession, inbox_id: int) -> None:
    jobs.kick_after_commit(session, process, inbox_id)


async def kick(inbox_id: int) -> None:
    await process.kiq(inbox_id)


async def kick_now(inbox_id: int) -> None:
    """After a commit that stored events: when this process is draining the inbox already, ask that drain
    for another pass (what the job would do on arrival, without a message through the broker); else kick."""
    if not worker.drain_again(inbox_id):
        await process.kiq(inbox_id)


def start_sweeper() -> asyncio.Task[None]:
    """The sweeper loop as a background task of this process (API process or `server worker`)."""
    return asyncio.create_task(worker.run_sweeper(kick))


_sweeper: asyncio.Task[None] | None = None


def start() -> None:
    """Run the sweeper in this process (the app lifespan and `chatbotx server worker` call this)."""
    global _sweeper
    if _sweeper is None or _sweeper.done():
        _sweeper = start_sweeper()


async def stop() -> None:
    global _sweeper
    if _sweeper is not None:
        _sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _sweeper
        _sweeper = None
