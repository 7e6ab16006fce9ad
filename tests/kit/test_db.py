"""The engine's pool: connections are kept, and what a returned connection left uncommitted is rolled back."""

from __future__ import annotations

import asyncio
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
