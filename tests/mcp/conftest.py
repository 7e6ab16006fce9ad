"""A live ChatbotX server in a subprocess (`chatbotx server start`, free port, temp data dir), per backend."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chatbotx.kit import db
from chatbotx.settings import Settings
from tests.conftest import BACKENDS, POSTGRES_URL, _drop_postgres_database, _fresh_postgres_database

CHATBOTX = str(Path(sys.executable).parent / "chatbotx")
START_WAIT_SECONDS = 120  # the test machine is shared; this only bounds a hang, nothing is timed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: a private HOME (no saved CLI config leaks in), no inherited
    CHATBOTX_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBOTX_")}
    env.update(HOME=str(home), CHATBOTX_RATE_LIMIT_PER_MINUTE="0", **extra)
    return env


def _output(log: Path) -> str:
    return log.read_text(errors="replace")[-5000:]


async def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_WAIT_SECONDS
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited with {process.returncode}:\n{_output(log)}")
            try:
                if (await client.get(url + "/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not start:\n{_output(log)}")


@contextmanager
def spawned(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Workspace:
    id: str
    token: str
    inbox_id: str


@dataclass
class LiveServer:
    url: str
    home: Path
    database: db.Database
    one: Workspace
    two: Workspace

    def api(self, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


async def _workspace(database: db.Database, name: str) -> Workspace:
    from chatbotx.workspaces import service
    from tests.mcp.helpers import add_inbox

    async with database.sessionmaker() as session:
        workspace, _member, token = await service.create_workspace(session, name, f"{name}@example.com")
        await db.commit(session)
    async with database.sessionmaker() as session:
        inbox_id = await add_inbox(session, workspace.id)
    return Workspace(str(workspace.id), token, inbox_id)


@pytest.fixture(scope="session", params=BACKENDS)
async def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    backend = request.param
    home = tmp_path_factory.mktemp(f"mcp-live-{backend}")
    data_dir = home / "data"
    database_url = None
    if backend == "postgres":
        if not POSTGRES_URL:
            pytest.skip("CHATBOTX_TEST_POSTGRES_URL is not set")
        database_url = await _fresh_postgres_database(POSTGRES_URL)
    extra = {"CHATBOTX_DATA_DIR": str(data_dir)}
    if database_url:
        extra["CHATBOTX_DATABASE_URL"] = database_url
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [CHATBOTX, "server", "start", "--port", str(port), "--data-dir", str(data_dir)]
    log = home / "server.log"
    database = None
    try:
        with spawned(args, child_env(home, **extra), log) as process:
            await wait_until_up(url, process, log)  # migrations ran: the schema exists
            database = db.Database(Settings(data_dir=data_dir, database_url=database_url))
            one = await _workspace(database, "mcp-one")
            two = await _workspace(database, "mcp-two")
            yield LiveServer(url, home, database, one, two)
    finally:
        if database is not None:
            await database.dispose()
        if database_url:
            await _drop_postgres_database(database_url)
