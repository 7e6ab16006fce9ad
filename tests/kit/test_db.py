"""The engine's pool: connections are kept, and what a returned connection left uncommitted is rolled back."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import event, text

from chatbotx.kit.db import make_engine


async def test_returned_connections_are_kept_and_uncommitted_writes_rolled_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=2)
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda *_args: opened.append(1))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (a INTEGER)"))
        async with engine.connect() as conn:  # left in a transaction: rolled back on return
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            raw = await conn.get_raw_connection()
            assert raw.driver_connection.in_transaction
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (2)"))

        async def read() -> int:
            async with engine.connect() as conn:
                await asyncio.sleep(0.01)
                return int((await conn.execute(text("SELECT sum(a) FROM t"))).scalar_one())

        # Four at once (the pool's whole size), then again: all four are kept, none reopened.
        assert await asyncio.gather(*(read() for _ in range(4))) == [2] * 4
        count = len(opened)
        assert await asyncio.gather(*(read() for _ in range(4))) == [2] * 4
        assert len(opened) == count == 4
    finally:
        await engine.dispose()


async def test_a_sqlite_write_after_another_connections_commit_waits_instead_of_failing(
    tmp_path: Path,
) -> None:
    """Several connections (the pool, other worker processes) write one SQLite file. A transaction that reads,
    then writes after another connection committed, must not fail with SQLITE_BUSY: the driver opens the
    transaction at the first write (reads before it hold no snapshot), and that first write waits for the
    write lock (busy_timeout) rather than failing."""
    path = tmp_path / "writers.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}", pool_size=2)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1, 0)"))
        async with engine.connect() as first, engine.connect() as second:
            assert await first.scalar(text("SELECT n FROM t WHERE id = 1")) == 0  # a read, then ...
            await second.execute(text("UPDATE t SET n = n + 1 WHERE id = 1"))  # ... another commits ...
            await second.commit()
            await first.execute(text("UPDATE t SET n = n + 10 WHERE id = 1"))  # ... then this one writes
            await first.commit()
        # Another process holding the write lock for a moment: the write waits for it.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE t SET n = n + 100 WHERE id = 1")
        release = asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        async with engine.begin() as conn:
            await conn.execute(text("SELECT n FROM t"))
            await conn.execute(text("UPDATE t SET n = n + 1000 WHERE id = 1"))
        release.cancel()
        other.close()
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT n FROM t WHERE id = 1")) == 1111  # no write lost
    finally:
        await engine.dispose()
