"""`chatbotx server worker`: the scale-out job worker, as its own process beside `server start --no-worker`,
jobs going through Redis Streams (CHATBOTX_BROKER_URL)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("CHATBOTX_TEST_REDIS_URL")
BROKER_DB = 9  # a Redis database of this test's own (flushed first: no job of an earlier run is consumed)


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBOTX_")}
    env.update(CHATBOTX_DATA_DIR=str(data_dir), CHATBOTX_RATE_LIMIT_PER_MINUTE="0", **extra)
    return env


def _chatbotx(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "chatbotx"), "server", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_worker_needs_a_broker(tmp_path: Path) -> None:
    result = _chatbotx(_env(tmp_path), "worker")
    assert result.returncode == 2
    assert "CHATBOTX_BROKER_URL" in result.stderr + result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _background_lock_held(data_dir: Path) -> bool:
    """Whether a process holds the background lock of the SQLite database in `data_dir`."""
    import fcntl

    path = data_dir / "chatbotx.db.background-lock"
    if not path.exists():
        return False
    with path.open("rb") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(file, fcntl.LOCK_UN)
        return False


def _wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def scale_out(tmp_path: Path) -> Iterator[tuple[dict[str, str], httpx.Client]]:
    """A migrated SQLite data directory, a workspace, and `server start --no-worker` on a free port."""
    if not REDIS_URL:
        pytest.skip("CHATBOTX_TEST_REDIS_URL is not set")
    import redis

    broker = REDIS_URL.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    redis.Redis.from_url(broker).flushdb()
    env = _env(tmp_path, CHATBOTX_BROKER_URL=broker)
    assert _chatbotx(env, "migrate").returncode == 0
    created = _chatbotx(env, "create-workspace", "Acme", "--json")
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)["token"]
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "chatbotx"), "server", "start", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                return httpx.get(base + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_until(ready, 60, "the server")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
            yield env, api
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.redis
def test_a_job_queued_by_the_api_runs_in_the_worker(scale_out: tuple[dict[str, str], httpx.Client]) -> None:
    env, api = scale_out
    upload = api.post(
        "/api/v1/files",
        files={
            "file": (
                "people.csv",
                b"email,first name\nada@example.com,Ada\nbob@example.com,Bob\n",
                "text/csv",
            )
        },
    )
    assert upload.status_code == 201, upload.text
    job = api.post("/api/v1/contacts/import", json={"fileId": upload.json()["id"]})
    assert job.status_code == 201, job.text
    job_id = job.json()["id"]

    def status() -> str:
        return str(api.get(f"/api/v1/contacts/imports/{job_id}").json()["status"])

    time.sleep(1.0)
    assert status() not in ("finished", "failed")  # the API process runs no jobs (--no-worker)

    worker = subprocess.Popen(
        [str(BIN / "chatbotx"), "server", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The worker runs the background loops (no API process does: --no-worker).
        _wait_until(lambda: _background_lock_held(Path(env["CHATBOTX_DATA_DIR"])), 30, "the background lock")
        _wait_until(lambda: status() in ("finished", "failed"), 60, "the import to run in the worker")
        done = api.get(f"/api/v1/contacts/imports/{job_id}").json()
        assert (done["status"], done["createdCount"]) == ("finished", 2), done
        listed = api.get("/api/v1/contacts", params={"keyword": "example.com"}).json()
        assert sorted(c["email"] for c in listed["data"]) == ["ada@example.com", "bob@example.com"]
    finally:
        worker.send_signal(signal.SIGINT)  # stops cleanly: the dispatcher, pollers and broker shut down
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "Worker consuming" in out
