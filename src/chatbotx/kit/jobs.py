"""The task queue: taskiq's in-process broker by default, Redis Streams when CHATBOTX_BROKER_URL is set.

Jobs kicked during a request are sent only after its transaction commits (dropped on rollback). With an
external broker, `chatbotx server start` also consumes jobs in-process unless `--no-worker`, and
`chatbotx server worker` runs dedicated workers.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask, InMemoryBroker, TaskiqEvents
from taskiq.api import run_receiver_task

from chatbotx.kit.db import after_commit
from chatbotx.settings import get_settings


def make_broker(url: str | None, queue_name: str = "chatbotx") -> AsyncBroker:
    if url and url.startswith(("redis://", "rediss://")):
        from taskiq_redis import RedisStreamBroker

        return RedisStreamBroker(url=url, queue_name=queue_name, consumer_group_name=queue_name)
    if url:
        raise ValueError(f"Unsupported CHATBOTX_BROKER_URL {url!r}: use redis://host:port/db")
    return InMemoryBroker(await_inplace=False)


broker: AsyncBroker = make_broker(get_settings().broker_url)


def is_external(target: AsyncBroker | None = None) -> bool:
    return not isinstance(target or broker, InMemoryBroker)


def kick_after_commit(session: AsyncSession, task: AsyncTaskiqDecoratedTask[Any, Any], *args: Any) -> None:
    """Send `task(*args)` once `session` commits."""

    async def _send() -> None:
        await task.kiq(*args)

    after_commit(session, _send)


def import_task_modules() -> None:
    """Import every `chatbotx.<domain>.tasks` module so the broker knows every job by name."""
    import chatbotx

    for module in pkgutil.iter_modules(chatbotx.__path__):
        if not module.ispkg:
            continue
        name = f"chatbotx.{module.name}.tasks"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def start_worker(target: AsyncBroker | None = None) -> asyncio.Task[None]:
    """Consume the external broker's queue in this process (a background task; cancel it to stop).

    The worker-startup hooks run first (e.g. resuming interrupted imports): the broker was started as a
    client, so `startup()` did not run them."""
    import_task_modules()
    chosen = target or broker

    async def run() -> None:
        for handler in chosen.event_handlers[TaskiqEvents.WORKER_STARTUP]:
            result = handler(chosen.state)
            if inspect.isawaitable(result):
                await result
        await run_receiver_task(chosen, run_startup=False)

    return asyncio.create_task(run())
