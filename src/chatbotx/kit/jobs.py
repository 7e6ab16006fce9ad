"""The task queue: taskiq's in-process broker by default, Redis Streams when CHATBOTX_BROKER_URL is set.

Jobs kicked during a request are sent only after its transaction commits (dropped on rollback).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask, InMemoryBroker

from chatbotx.kit.db import after_commit
from chatbotx.settings import get_settings


def _make_broker() -> AsyncBroker:
    url = get_settings().broker_url
    if url and url.startswith(("redis://", "rediss://")):
        from taskiq_redis import RedisStreamBroker

        return RedisStreamBroker(url=url, queue_name="chatbotx")
    return InMemoryBroker(await_inplace=False)


broker: AsyncBroker = _make_broker()


def kick_after_commit(session: AsyncSession, task: AsyncTaskiqDecoratedTask[Any, Any], *args: Any) -> None:
    """Send `task(*args)` once `session` commits."""

    async def _send() -> None:
        await task.kiq(*args)

    after_commit(session, _send)
