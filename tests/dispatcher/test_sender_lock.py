"""Without Redis one dispatcher per database sends: the lock (a file lock on SQLite, an advisory lock on
PostgreSQL) and the runner's loop that sends only while it holds it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from chatbotx.dispatcher import runner
from chatbotx.dispatcher.sender_lock import ADVISORY_KEY, FileLock, PostgresLock, process_lock, sender_lock
from tests.conftest import POSTGRES_URL


async def test_one_file_lock_holder_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "chatbotx.db.dispatcher-lock"
    first, second = FileLock(path), FileLock(path)
    assert await first.acquire()
    assert await first.held()
    assert not await second.acquire()
    await first.release()
    assert not await first.held()
    assert await second.acquire()
    await second.close()


@pytest.mark.skipif(not POSTGRES_URL, reason="CHATBOTX_TEST_POSTGRES_URL is not set")
async def test_one_advisory_lock_holder_at_a_time() -> None:
    assert POSTGRES_URL is not None
    key = 0x7E57_0001  # not the dispatcher's own: the app under test may hold that one
    first, second = PostgresLock(make_url(POSTGRES_URL), key), PostgresLock(make_url(POSTGRES_URL), key)
    try:
        assert await first.acquire()
        assert await first.held()
        assert not await second.acquire()
        await first.release()  # its session ends: the lock is free
        assert await second.acquire()
        assert not await first.acquire()
    finally:
        await first.close()
        await second.close()


def test_each_database_has_its_lock(tmp_path: Path) -> None:
    sqlite = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'chatbotx.db'}")
    lock = sender_lock(sqlite)
    assert isinstance(lock, FileLock) and lock.path == tmp_path / "chatbotx.db.dispatcher-lock"
    assert sender_lock(create_async_engine("sqlite+aiosqlite://")) is None  # in memory: one process only
    postgres = create_async_engine("postgresql+asyncpg://u:p@127.0.0.1/db")
    assert isinstance(sender_lock(postgres), PostgresLock)


def test_each_role_has_its_lock(tmp_path: Path) -> None:
    """The background loops' lock is not the dispatcher's: one process may hold either or both."""
    sqlite = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'chatbotx.db'}")
    lock = process_lock(sqlite, "background")
    assert isinstance(lock, FileLock) and lock.path == tmp_path / "chatbotx.db.background-lock"
    postgres = create_async_engine("postgresql+asyncpg://u:p@127.0.0.1/db")
    background, sending = process_lock(postgres, "background"), sender_lock(postgres)
    assert isinstance(background, PostgresLock) and isinstance(sending, PostgresLock)
    assert sending.key == ADVISORY_KEY
    assert background.key != ADVISORY_KEY
    assert -(2**63) <= background.key < 2**63


class Recorder:
    """Stands for a Dispatcher: records when it runs."""

    def __init__(self) -> None:
        self.running = False
        self.runs = 0
        self.changed = asyncio.Event()

    async def run(self) -> None:
        self.running = True
        self.runs += 1
        self.changed.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.running = False
            self.changed.set()

    async def until(self, running: bool) -> None:
        async with asyncio.timeout(5):
            while self.running != running:
                self.changed.clear()
                await self.changed.wait()


async def test_only_the_lock_holder_sends_and_another_takes_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "LOCK_RETRY", 0.05)
    path = tmp_path / "chatbotx.db.dispatcher-lock"
    first, second = Recorder(), Recorder()
    serving_first = asyncio.create_task(runner.serve(first, FileLock(path)))  # type: ignore[arg-type]
    await first.until(running=True)
    serving_second = asyncio.create_task(runner.serve(second, FileLock(path)))  # type: ignore[arg-type]
    await asyncio.sleep(0.3)  # several tries
    assert first.running and not second.running

    serving_first.cancel()  # the holder stops: its lock is released, the other one sends
    with pytest.raises(asyncio.CancelledError):
        await serving_first
    assert not first.running
    await second.until(running=True)
    serving_second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving_second
    assert await FileLock(path).acquire()  # released on the way out


async def test_a_lost_lock_stops_the_sending_until_it_is_held_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "LOCK_RETRY", 0.05)

    class Flaky(FileLock):
        lose = False  # as if its database session broke and another process had the lock meanwhile

        async def acquire(self) -> bool:
            return not self.lose and await super().acquire()

        async def held(self) -> bool:
            return not self.lose and await super().held()

    lock = Flaky(tmp_path / "lock")
    sender = Recorder()
    serving = asyncio.create_task(runner.serve(sender, lock))  # type: ignore[arg-type]
    await sender.until(running=True)
    lock.lose = True
    await sender.until(running=False)
    await asyncio.sleep(0.2)  # several tries, none taken
    assert not sender.running and sender.runs == 1
    lock.lose = False
    await sender.until(running=True)
    assert sender.runs >= 2
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
