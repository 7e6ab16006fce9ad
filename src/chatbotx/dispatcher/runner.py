"""The dispatcher's lifecycle: one per process (the server unless --no-worker, and `chatbotx server worker`),
woken right after a transaction that queued a message commits."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.dispatcher.limits import OutboundLimiter
from chatbotx.dispatcher.sender_lock import SenderLock, run_while_held, sender_lock
from chatbotx.dispatcher.service import Dispatcher
from chatbotx.kit import db
from chatbotx.settings import get_settings

log = logging.getLogger("chatbotx.dispatcher")

LOCK_RETRY = 5.0  # seconds: how often a waiting dispatcher tries the lock, and its holder checks it

_running: tuple[Dispatcher, asyncio.Task[None]] | None = None


def current() -> Dispatcher | None:
    return _running[0] if _running else None


def notify() -> None:
    """Wake the process's dispatcher: there is new work."""
    if _running is not None:
        _running[0].wake.set()


async def _wake() -> None:
    notify()


def notify_after_commit(session: AsyncSession) -> None:
    """Wake the dispatcher once `session` commits (a queued message is then visible to its claim)."""
    callbacks = session.info.get("after_commit", [])
    if _wake not in callbacks:
        db.after_commit(session, _wake)


def start() -> Dispatcher:
    """Start the process's dispatcher loop (idempotent)."""
    global _running
    if _running is not None:
        return _running[0]
    settings = get_settings()
    limiter = OutboundLimiter.from_url(settings.redis_url)
    database = db.get_database()
    dispatcher = Dispatcher(database.sessionmaker, limiter)
    # Limits counted in this process's memory hold only while no other process sends on the same database.
    lock = None if settings.redis_url else sender_lock(database.engine)
    _running = (dispatcher, asyncio.create_task(serve(dispatcher, lock), name="chatbotx-dispatcher"))
    return dispatcher


async def serve(dispatcher: Dispatcher, lock: SenderLock | None) -> None:
    """Run `dispatcher` until cancelled; with a lock, only while this process holds it (waiting for it first,
    and again whenever it is lost: sends in flight finish and are recorded, claimed rows are released)."""
    if lock is None:
        await dispatcher.run()
        return
    await run_while_held(lock, dispatcher.run, LOCK_RETRY)


async def stop() -> None:
    """Stop the loop: sends in flight finish and are recorded, claimed rows not yet sent are released."""
    global _running
    if _running is None:
        return
    dispatcher, task = _running
    _running = None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await dispatcher.limiter.close()


@contextlib.asynccontextmanager
async def paused() -> AsyncIterator[None]:
    """No background dispatching inside the block (tests drive their own dispatchers)."""
    was_running = _running is not None
    await stop()
    try:
        yield
    finally:
        if was_running:
            start()


async def send_due(now: dt.datetime | None = None) -> int:
    """Send everything due at `now` in this task, with the background loop stood aside (tests, one-off runs);
    returns how many messages were claimed."""
    async with paused():
        return await Dispatcher(db.get_database().sessionmaker).drain(now)
