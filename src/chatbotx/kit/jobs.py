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


async def startup(worker_hooks: bool = True) -> None:
    """Start the broker. The in-process broker also runs the worker-startup hooks (resuming interrupted
    imports) unless `worker_hooks` is False: of several worker processes only one runs them
    (`run_worker_startup`), or each would resume every import."""
    if worker_hooks or is_external():
        await broker.startup()
    else:
        await AsyncBroker.startup(broker)  # a client's startup: the client hooks, middlewares, result backend


async def run_worker_startup(target: AsyncBroker | None = None) -> None:
    """The worker-startup hooks (e.g. resuming interrupted imports)."""
    chosen = target or broker
    for handler in chosen.event_handlers[TaskiqEvents.WORKER_STARTUP]:
        result = handler(chosen.state)
        if inspect.isawaitable(result):
            await result


def start_worker(target: AsyncBroker | None = None, worker_hooks: bool = True) -> asyncio.Task[None]:
    """Consume the external broker's queue in this process (a background task; cancel it to stop).

    The worker-startup hooks run first unless `worker_hooks` is False (another process of the server runs
    them): the broker was started as a client, so `startup()` did not run them."""
    import_task_modules()
    chosen = target or broker

    async def run() -> None:
        if worker_hooks:
            await run_worker_startup(chosen)
        await run_receiver_task(chosen, run_startup=False)

    return asyncio.create_task(run())
