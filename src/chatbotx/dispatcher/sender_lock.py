"""Without a shared limiter only one dispatcher per database may send.

The rate limits are counted where the dispatcher runs: in Redis when CHATBOTX_REDIS_URL is set (every
dispatcher shares each inbox's count), otherwise in the process's memory. Two processes with their own counts
(`server start --workers 2`, or a server and a `server worker`) would each let an inbox's whole limit through.
So without Redis a dispatcher first takes this lock and sends only while it holds it; the others wait and one
of them takes over when the holder stops or dies.

PostgreSQL: a session advisory lock on a connection of its own (not pooled: closing it ends the session and so
frees the lock, also when the process dies). SQLite: an exclusive `flock` on a file beside the database (the
processes sharing a SQLite file share a host).
"""

from __future__ import annotations

import contextlib
import logging
import os
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


def sender_lock(engine: AsyncEngine) -> SenderLock | None:
    """The lock for the database of `engine` (None: an in-memory SQLite database, one process by nature)."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return PostgresLock(url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        return FileLock(Path(database).with_name(Path(database).name + ".dispatcher-lock"))
    return None
