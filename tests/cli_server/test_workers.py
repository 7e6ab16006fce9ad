"""`chatbotx server start --workers 2`, for real, on SQLite and on PostgreSQL without Redis: an event
committed by one worker reaches an SSE client of the other, the rate limit is counted across workers,
concurrent writes from both all succeed, one worker runs the background loops, MCP over streamable HTTP works
whichever worker takes a request, and the server stops while realtime clients stay connected."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatbotx.cli.server import GRACEFUL_SHUTDOWN_SECONDS
from tests.cli_server.test_worker import (
    _background_lock_held,
    _chatbotx,
    _env,
    _free_port,
    _wait_until,
)
from tests.conftest import POSTGRES_URL, _drop_postgres_database, _fresh_postgres_database

BIN = Path(sys.executable).parent
WORKERS = 2
STARTED = "Application startup complete."


class Server:
    def __init__(self, url: str, token: str, env: dict[str, str], process: subprocess.Popen[bytes]):
        self.url = url
        self.token = token
        self.env = env
        self.process = process

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request on a connection of its own: each new connection is accepted by whichever worker is
        free, so a series of them reaches both workers."""
        headers = {"Authorization": f"Bearer {self.token}", "Connection": "close"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as client:
            return client.request(method, f"/api/v1{path}", **kwargs)


StartServer = Callable[..., Server]


@pytest.fixture(params=["sqlite", "postgres"])
def start_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StartServer]:
    """Starts `server start --workers 2` on a fresh database (SQLite in tmp_path, or a new PostgreSQL
    database), no Redis; waits until both workers have started."""
    database_url = None
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("CHATBOTX_TEST_POSTGRES_URL is not set")
        database_url = asyncio.run(_fresh_postgres_database(POSTGRES_URL))
    servers: list[subprocess.Popen[bytes]] = []

    def start(rate_limit_per_minute: int = 0) -> Server:
        env = _env(tmp_path)
        env["CHATBOTX_RATE_LIMIT_PER_MINUTE"] = str(rate_limit_per_minute)
        if database_url:
            env["CHATBOTX_DATABASE_URL"] = database_url
        assert _chatbotx(env, "migrate").returncode == 0
        created = _chatbotx(env, "create-workspace", "Acme", "--json")
        assert created.returncode == 0, created.stderr
        port = _free_port()
        log = tmp_path / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    str(BIN / "chatbotx"),
                    "server",
                    "start",
                    "--workers",
                    str(WORKERS),
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        servers.append(process)
        _wait_until(lambda: log.read_text().count(STARTED) == WORKERS, 60, f"{WORKERS} workers to start")
        return Server(f"http://127.0.0.1:{port}", json.loads(created.stdout)["token"], env, process)

    yield start
    for server in servers:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if database_url:
        asyncio.run(_drop_postgres_database(database_url))


def _listen(
    server: Server, seen: list[dict[str, Any]], ready: threading.Event, stop: threading.Event
) -> None:
    """Collect the contact.created events of the workspace's SSE stream (one connection: one worker)."""
    headers = {"Authorization": f"Bearer {server.token}"}
    with (
        httpx.Client(base_url=server.url, headers=headers, timeout=httpx.Timeout(5, read=None)) as client,
        client.stream("GET", "/api/v1/events") as response,
    ):
        assert response.status_code == 200
        ready.set()
        event = None
        with contextlib.suppress(httpx.RemoteProtocolError):  # the server stopped, cutting the stream
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "contact.created":
                    seen.append(json.loads(line.removeprefix("data: ")))
                if stop.is_set():
                    return


def _listening(server: Server) -> tuple[threading.Thread, list[dict[str, Any]], threading.Event]:
    """A thread collecting the server's contact.created events (`_listen`) once its stream is open: the
    thread, what it saw, and the event that stops it (at its next line)."""
    seen: list[dict[str, Any]] = []
    ready, stop = threading.Event(), threading.Event()
    listener = threading.Thread(target=_listen, args=(server, seen, ready, stop), daemon=True)
    listener.start()
    assert ready.wait(30)
    return listener, seen, stop


def test_an_sse_client_hears_events_committed_by_the_other_worker(start_server: StartServer) -> None:
    server = start_server()
    listener, seen, stop = _listening(server)
    # Twenty creates on connections of their own, four at a time: both workers serve some of them.
    with ThreadPoolExecutor(4) as pool:
        responses = list(
            pool.map(lambda n: server.request("POST", "/contacts", json={"firstName": f"Ann {n}"}), range(20))
        )
    assert [r.status_code for r in responses] == [200] * 20
    created = {r.json()["id"] for r in responses}
    _wait_until(lambda: {e["id"] for e in seen} >= created, 30, "every contact.created on the stream")
    stop.set()
    server.request("POST", "/contacts", json={"firstName": "wakes the listener up to stop"})
    listener.join(10)


def test_the_rate_limit_is_counted_across_workers(start_server: StartServer) -> None:
    limit = 40
    server = start_server(rate_limit_per_minute=limit)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _n: server.request("GET", "/tags").status_code, range(2 * limit)))
    assert statuses.count(200) == limit, statuses
    assert statuses.count(429) == limit
    refused = server.request("GET", "/tags")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_concurrent_writes_on_both_workers_all_succeed(start_server: StartServer) -> None:
    """Creates, updates and tagging from 16 clients at once, on new connections (both workers write at the
    same time): no error, and every write is there afterwards."""
    server = start_server()
    count = 120
    names = ["shared", *(f"own-{k}" for k in range(7))]
    tag_ids = {}
    for name in names:
        response = server.request("POST", "/tags", json={"name": name})
        assert response.status_code in (200, 201), response.text
        tag_ids[name] = response.json()["id"]

    def create(n: int) -> str:
        response = server.request(
            "POST", "/contacts", json={"firstName": f"C{n}", "email": f"c{n}@example.com"}
        )
        assert response.status_code == 200, response.text
        contact_id: str = response.json()["id"]
        return contact_id

    def update(job: tuple[int, str]) -> None:
        n, contact_id = job
        response = server.request("PUT", f"/contacts/{contact_id}", json={"lastName": f"L{n}"})
        assert response.status_code == 204, response.text
        tags = {"tagIds": [tag_ids["shared"], tag_ids[f"own-{n % 7}"]]}
        response = server.request("POST", f"/contacts/{contact_id}/tags", json=tags)
        assert response.status_code == 204, response.text

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(create, range(count)))
        list(pool.map(update, enumerate(ids)))
    assert len(set(ids)) == count
    for n, contact_id in enumerate(ids):
        contact = server.request("GET", f"/contacts/{contact_id}").json()
        assert (contact["firstName"], contact["lastName"]) == (f"C{n}", f"L{n}")
        assert sorted(t["name"] for t in contact["tags"]) == sorted(["shared", f"own-{n % 7}"])
    listed = server.request("GET", "/contacts", params={"perPage": 1}).json()
    assert listed["pageCount"] == count  # one contact a page: as many pages as contacts


def test_sqlite_servers_start_several_workers(tmp_path: Path) -> None:
    """--workers is no longer PostgreSQL only (and still refuses 0)."""
    result = _chatbotx(_env(tmp_path), "start", "--workers", "0")
    assert result.returncode == 2
    assert "--workers" in result.stderr


def _held_on_sqlite(server: Server) -> bool:
    return _background_lock_held(Path(server.env["CHATBOTX_DATA_DIR"]))


def _held_on_postgres(server: Server) -> bool:
    import asyncpg
    from sqlalchemy.engine import make_url

    from chatbotx.dispatcher.sender_lock import _advisory_key

    key = _advisory_key("background") & (2**64 - 1)  # pg_locks shows the key's two unsigned halves
    dsn = make_url(server.env["CHATBOTX_DATABASE_URL"]).set(drivername="postgresql")

    async def count() -> int:
        conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        try:
            held: int = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid::bigint = $1 AND objid::bigint = $2",
                key >> 32,
                key & 0xFFFFFFFF,
            )
            return held
        finally:
            await conn.close()

    return asyncio.run(count()) == 1


def test_one_worker_runs_the_background_loops(start_server: StartServer) -> None:
    """The inbound sweeper, the email poller and resuming imports run in the worker holding the background
    lock (the other waits for it)."""
    server = start_server()
    held = _held_on_postgres if "CHATBOTX_DATABASE_URL" in server.env else _held_on_sqlite
    _wait_until(lambda: held(server), 30, "a worker to hold the background lock")


def test_the_server_stops_while_realtime_clients_stay_connected(start_server: StartServer) -> None:
    """An SSE stream never ends by itself: stopping cuts it after GRACEFUL_SHUTDOWN_SECONDS instead of
    waiting for the client (the workers' parent waited for them forever)."""
    server = start_server()
    listener, _seen, _stop = _listening(server)
    server.process.send_signal(signal.SIGINT)
    server.process.wait(GRACEFUL_SHUTDOWN_SECONDS + 20)  # raises TimeoutExpired while a worker hangs on
    listener.join(10)
    assert not listener.is_alive()  # its stream was closed by the server


async def _mcp_tags_over_new_connections(server: Server, names: list[str]) -> list[str]:
    """An MCP client on streamable HTTP whose every request opens a connection of its own (so they reach both
    workers): it initializes, creates a tag per name, and lists the tags."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from mcp import ClientSession
    from tests.mcp.helpers import call_ok

    headers = {"Authorization": f"Bearer {server.token}"}
    limits = httpx2.Limits(max_keepalive_connections=0)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60, limits=limits) as client,
        streamable_http_client(f"{server.url}/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        for name in names:
            await call_ok(session, "create_tag", name=name)
        return [tag["name"] for tag in await call_ok(session, "list_tags")]


def test_mcp_over_streamable_http_works_whichever_worker_takes_a_request(start_server: StartServer) -> None:
    """With several workers /mcp keeps no session (a stateful one lives in one worker: a request reaching
    the other was refused, 404)."""
    server = start_server()
    names = [f"mcp-{i}" for i in range(12)]
    assert sorted(asyncio.run(_mcp_tags_over_new_connections(server, names))) == sorted(names)
