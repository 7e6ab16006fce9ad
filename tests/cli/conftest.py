"""CLI test fixtures: a live server in a subprocess (SQLite, and PostgreSQL when configured), a fresh
workspace per test, and a runner for the real `chatbotx` executable with HOME set to a temp dir."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import POSTGRES_URL, _drop_postgres_database, _fresh_postgres_database

BIN_DIR = Path(sys.executable).parent
CHATBOTX = [sys.executable, "-m", "chatbotx.cli.main"]
SEED_ENV_KEYS = ("CHATBOTX_API_KEY", "CHATBOTX_API_URL", "CHATBOTX_ALLOW_SELF_SIGNED_CERT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:PORT
    backend: str
    data_dir: Path
    database_url: str | None
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def has(self, operation_id: str) -> bool:
        return any(
            op.get("operationId") == operation_id
            for item in self.spec.get("paths", {}).values()
            for op in item.values()
            if isinstance(op, dict)
        )

    def require(self, *operation_ids: str) -> None:
        """Skip while another engineer's endpoint has not landed yet."""
        missing = [o for o in operation_ids if not self.has(o)]
        if missing:
            pytest.skip(f"server does not have {', '.join(missing)} yet")

    def insert(self, *rows: Any) -> None:
        """Write model rows straight to this server's database (for resources the API only reads)."""
        from chatbotx.kit.db import Database, commit
        from chatbotx.settings import Settings

        async def write() -> None:
            database = Database(Settings(data_dir=self.data_dir, database_url=self.database_url))
            try:
                async with database.sessionmaker() as session:
                    session.add_all(rows)
                    await commit(session)
            finally:
                await database.dispose()

        asyncio.run(write())

    def new_workspace(self) -> str:
        """A fresh workspace on this server's database; returns its owner token."""
        from chatbotx.kit.db import Database, commit
        from chatbotx.settings import Settings
        from chatbotx.workspaces import service

        async def create() -> str:
            database = Database(Settings(data_dir=self.data_dir, database_url=self.database_url))
            try:
                async with database.sessionmaker() as session:
                    _ws, _member, token = await service.create_workspace(
                        session, "CLI test", f"cli-{uuid.uuid4().hex}@example.com"
                    )
                    await commit(session)
                    return str(token)
            finally:
                await database.dispose()

        return asyncio.run(create())


def start_server(
    backend: str, data_dir: Path, database_url: str | None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBOTX_")}
    env.update(
        CHATBOTX_RATE_LIMIT_PER_MINUTE="0", CHATBOTX_DATA_DIR=str(data_dir), CHATBOTX_LOG_LEVEL="warning"
    )
    if database_url:
        env["CHATBOTX_DATABASE_URL"] = database_url
    log = data_dir / "server.log"
    proc = subprocess.Popen(
        [*CHATBOTX, "server", "start", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, log)
    except RuntimeError:
        proc.kill()
        raise
    return proc, url


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    backend = request.param
    database_url = None
    if backend == "postgres":
        if not POSTGRES_URL:
            pytest.skip("CHATBOTX_TEST_POSTGRES_URL is not set")
        database_url = asyncio.run(_fresh_postgres_database(POSTGRES_URL))
    data_dir = tmp_path_factory.mktemp(f"cli-{backend}")
    proc, url = start_server(backend, data_dir, database_url)
    server = LiveServer(url, backend, data_dir, database_url)
    server.spec = httpx.get(url + "/api/public-spec.json", timeout=30).json()
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if database_url:
            asyncio.run(_drop_postgres_database(database_url))


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:  # shown by pytest when an assertion fails
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@dataclass
class Cli:
    """Runs the real `chatbotx` against the live server, as a user configured for a fresh workspace."""

    home: Path
    server: LiveServer
    token: str
    env: dict[str, str]

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True, cwd: Path | None = None
    ) -> Result:
        proc = subprocess.run(
            [*CHATBOTX, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=cwd,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check:
            assert result.code == 0, str(result)
        return result

    def sh(self, script: str, cwd: Path | None = None) -> Result:
        """A shell recipe verbatim (bash, with `chatbotx` and jq on the PATH)."""
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=cwd,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    @property
    def api(self) -> httpx.Client:
        """Direct HTTP access to check the server's state."""
        return httpx.Client(
            base_url=self.server.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def get(self, path: str, **params: Any) -> Any:
        with self.api as client:
            resp = client.get(path, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def post(self, path: str, body: Any, status: int = 201) -> Any:
        with self.api as client:
            resp = client.post(path, json=body)
        assert resp.status_code == status, resp.text
        return resp.json() if resp.content else None


def user_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBOTX_") and k != "_CHATBOTX_COMPLETE"}
    env.update(HOME=str(home), PATH=f"{BIN_DIR}:{env.get('PATH', '/usr/bin:/bin')}", COLUMNS="200")
    return env


@pytest.fixture
def cli(live_server: LiveServer, tmp_path: Path) -> Cli:
    """A user with a fresh workspace whose credentials were saved with `chatbotx config set`."""
    home = tmp_path / "home"
    home.mkdir()
    token = live_server.new_workspace()
    runner = Cli(home, live_server, token, user_env(home))
    runner("config", "set", "--apiKey", token, "--apiUrl", live_server.api_url)
    return runner
