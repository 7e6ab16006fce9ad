"""The job queue over a real Redis (Redis Streams): a job kicked after commit runs in a worker."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from taskiq import TaskiqEvents

from chatbotx.kit import jobs

REDIS_URL = os.environ.get("CHATBOTX_TEST_REDIS_URL")


def test_in_memory_broker_is_the_default() -> None:
    assert not jobs.is_external(jobs.make_broker(None))


def test_unknown_broker_url_is_refused() -> None:
    with pytest.raises(ValueError, match="Unsupported"):
        jobs.make_broker("kafka://nope")


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="CHATBOTX_TEST_REDIS_URL is not set")
async def test_redis_stream_broker_runs_a_job_in_a_worker() -> None:
    broker = jobs.make_broker(REDIS_URL, queue_name=f"chatbotx-test-{uuid.uuid4().hex}")
    assert jobs.is_external(broker)
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @broker.task(task_name="test.echo")
    async def echo(value: str) -> None:
        if not done.done():
            done.set_result(value)

    await broker.startup()
    worker = jobs.start_worker(broker)
    try:
        await echo.kiq("hello")
        assert await asyncio.wait_for(done, timeout=10) == "hello"
    finally:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
        await broker.shutdown()


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="CHATBOTX_TEST_REDIS_URL is not set")
async def test_worker_runs_the_worker_startup_hooks_first() -> None:
    from taskiq import TaskiqEvents

    broker = jobs.make_broker(REDIS_URL, queue_name=f"chatbotx-test-{uuid.uuid4().hex}")
    started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    @broker.on_event(TaskiqEvents.WORKER_STARTUP)
    async def on_start(_state: object) -> None:
        started.set_result(True)

    await broker.startup()  # as a client: the worker hooks have not run
    assert not started.done()
    worker = jobs.start_worker(broker)
    try:
        assert await asyncio.wait_for(started, timeout=10)
    finally:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
        await broker.shutdown()


async def test_one_worker_process_of_several_runs_the_worker_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every process starts the in-process broker; of several workers only the elected one resumes imports."""
    broker = jobs.make_broker(None)
    monkeypatch.setattr(jobs, "broker", broker)
    ran: list[str] = []
    broker.on_event(TaskiqEvents.WORKER_STARTUP)(lambda _state: ran.append("worker"))
    broker.on_event(TaskiqEvents.CLIENT_STARTUP)(lambda _state: ran.append("client"))
    await jobs.startup(worker_hooks=False)
    assert ran == ["client"]
    await jobs.run_worker_startup()
    assert ran == ["client", "worker"]
    ran.clear()
    await jobs.startup()  # one process: the broker's own startup runs both
    assert ran == ["client", "worker"]
