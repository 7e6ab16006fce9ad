"""Without a shared limiter only one dispatcher per database may send.

The rate limits are counted where the dispatcher runs: in Redis when CHATBOTX_REDIS_URL is set (every
dispatcher shares each inbox's count), otherwise in the process's memory. Two processes with their own counts
(`server start --workers 2`, or a server and a `server worker`) would each let an inbox's whole limit through.
So without Redis a dispatcher first takes this lock and sends only while it holds it; the others wait and one
of them takes over when the holder stops or dies.

PostgreSQL: a session advisory lock on a connection of its own (not pooled: closing it ends the session and so
frees the lock, also when the process dies). SQLite: an exclusive `flock` on a file beside the database (the
processes sharing a SQLite file share a host).

The same kind of lock, under another name, elects the one process of a multi-worker server that runs the other
background loops (`process_lock`, `run_while_held`: see app.py's lifespan).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger("chatbotx.dispatcher")

ADVISORY_KEY = 0x4342_5844_6973_7031  # PostgreSQL advisory lock id of the sending dispatcher


class SenderLock(Protocol):
    async def acquire(self) -> bool:
        """Try once: True when this process now holds the lock."""
        ...

    async def held(self) -> bool:
        """Whether the lock is still ours (a lost database session loses it)."""
        ...

    async def release(self) -> None: ...

    async def close(self) -> None:
        """Release, and free what the lock holds open (its engine)."""
        ...


class PostgresLock:
    def __init__(self, url: URL, key: int = ADVISORY_KEY):
        self.engine: AsyncEngine = create_async_engine(url, poolclass=NullPool)
        self.key = key
        self.conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        conn = await self.engine.connect()
        try:
            got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}))
            await conn.commit()  # the lock is the session's: it outlives the transaction
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self.conn = conn
        return True

    async def held(self) -> bool:
        if self.conn is None:
            return False
        try:
            await self.conn.scalar(text("SELECT 1"))
            await self.conn.commit()
        except Exception:
            log.warning("the dispatcher's lock connection failed: it no longer holds the lock", exc_info=True)
            await self.release()
            return False
        return True

    async def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()  # not pooled: the session ends and the lock with it

    async def close(self) -> None:
        await self.release()
        await self.engine.dispose()


class FileLock:
    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    async def acquire(self) -> bool:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return True

    async def held(self) -> bool:
        return self.fd is not None

    async def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # closing the file frees the lock

    async def close(self) -> None:
        await self.release()


def process_lock(engine: AsyncEngine, role: str) -> SenderLock | None:
    """The lock electing one process for `role` on the database of `engine` (None: an in-memory SQLite
    database, one process by nature). PostgreSQL: an advisory key from the role's name; SQLite: the file
    `<database>.<role>-lock`."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        key = ADVISORY_KEY if role == "dispatcher" else _advisory_key(role)
        return PostgresLock(url, key)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        return FileLock(Path(database).with_name(f"{Path(database).name}.{role}-lock"))
    return None


def _advisory_key(role: str) -> int:
    """A signed 64-bit advisory lock id for `role` (stable across processes and releases)."""
    digest = hashlib.blake2b(f"chatbotx:{role}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def sender_lock(engine: AsyncEngine) -> SenderLock | None:
    """The dispatcher's lock for the database of `engine`."""
    return process_lock(engine, "dispatcher")


async def run_while_held(lock: SenderLock, run: Callable[[], Awaitable[None]], retry: float) -> None:
    """Run `run()` until cancelled, only while this process holds `lock`: wait for it first (trying every
    `retry` seconds), check it is still held as often, stop `run` when it is lost and wait for it again. An
    error of `run` is raised; the lock is closed on the way out."""
    try:
        while True:
            try:
                acquired = await lock.acquire()
            except Exception:
                log.warning("could not try a process lock", exc_info=True)
                acquired = False
            if not acquired:
                await asyncio.sleep(retry)
                continue
            task = asyncio.ensure_future(run())
            try:
                while not task.done():
                    await asyncio.wait({task}, timeout=retry)
                    if not task.done() and not await lock.held():
                        break  # another process may take it now: stop until it is ours again
            finally:
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await lock.release()
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error
    finally:
        await lock.close()
