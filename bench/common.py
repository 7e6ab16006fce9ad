"""Shared benchmark plumbing: fresh stores, fast seeding (Core bulk inserts / PostgreSQL COPY), server
processes, wrk runs and RSS readings. Nothing here is part of the test suite."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

BIN = Path(sys.executable).parent
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_URL = (
    os.environ.get("CHATBOTX_BENCH_POSTGRES_URL")
    or os.environ.get("CHATBOTX_TEST_POSTGRES_URL")
    or DEFAULT_PG
)
TAGS_PER_WORKSPACE = 10


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int, children: bool = True) -> float:
    """Resident memory of a process (and its children: uvicorn workers), in MB."""
    proc = psutil.Process(pid)
    procs = [proc, *(proc.children(recursive=True) if children else [])]
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 1_048_576


# ---------------------------------------------------------------- stores


@dataclass
class Store:
    """A fresh database (SQLite in a temp data dir, or a new PostgreSQL database) with one workspace."""

    backend: str
    data_dir: Path
    database_url: str | None
    workspace_id: int = 0
    token: str = ""

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'chatbotx.db').resolve()}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBOTX_")}
        env.update(
            CHATBOTX_DATA_DIR=str(self.data_dir),
            CHATBOTX_RATE_LIMIT_PER_MINUTE="0",
            CHATBOTX_LOG_LEVEL="warning",
        )
        if self.database_url:
            env["CHATBOTX_DATABASE_URL"] = self.database_url
        return env


def _pg_admin_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)


async def _pg_exec(sql: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@contextlib.contextmanager
def fresh_store(backend: str) -> Iterator[Store]:
    """A migrated, empty store with one workspace and its owner token; removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"chatbotx-bench-{backend}-"))
    database_url = None
    if backend == "postgres":
        from sqlalchemy.engine import make_url

        name = f"chatbotx_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
        database_url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    store = Store(backend, data_dir, database_url)
    try:
        subprocess.run(
            [str(BIN / "chatbotx"), "server", "migrate"], env=store.env(), check=True, capture_output=True
        )
        store.workspace_id, store.token = asyncio.run(_create_workspace(store))
        yield store
    finally:
        if database_url:
            name = database_url.rsplit("/", 1)[1]
            asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(data_dir, ignore_errors=True)


async def _create_workspace(store: Store) -> tuple[int, str]:
    from chatbotx.kit.db import Database, commit
    from chatbotx.settings import Settings
    from chatbotx.workspaces import service

    database = Database(Settings(data_dir=store.data_dir, database_url=store.database_url))
    try:
        async with database.sessionmaker() as session:
            workspace, _member, token = await service.create_workspace(session, "Bench")
            await commit(session)
        return workspace.id, token
    finally:
        await database.dispose()


# ---------------------------------------------------------------- seeding

FIRST = ["Ada", "Grace", "Linus", "Guido", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger"]
LAST = [
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Rossum",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Allen",
    "Dijkstra",
]
COUNTRIES = ["VN", "US", "DE", "FR", "BR", "IN", "JP", "GB"]


def contact_rows(workspace_id: int, start: int, count: int) -> Iterator[dict[str, Any]]:
    """`count` plausible contacts (unique email and phone per index), created over the last year."""
    from chatbotx.kit.ids import new_id

    now = dt.datetime.now(dt.UTC)
    for i in range(start, start + count):
        first, last = FIRST[i % 10], LAST[(i // 10) % 10]
        created = now - dt.timedelta(seconds=(i * 37) % 31_536_000)
        yield {
            "id": new_id(),
            "workspace_id": workspace_id,
            "created_at": created,
            "updated_at": created,
            "first_name": first,
            "last_name": f"{last}{i}",
            "full_name": f"{first} {last}{i}",
            "email": f"{first.lower()}.{last.lower()}{i}@example.com",
            "phone_number": f"+1555{i:07d}",
            "email_verified": False,
            "email_opt_in": True,
            "country": COUNTRIES[i % len(COUNTRIES)],
            "locale": "en",
            "timezone": "UTC",
            "source": "import",
            "subscribed_at": created,
        }


async def seed_contacts(store: Store, count: int, *, chunk: int = 50_000, tags_each: int = 2) -> float:
    """Insert `count` contacts with `tags_each` tags each; returns seconds taken."""
    started = time.perf_counter()
    if store.backend == "postgres":
        await _seed_postgres(store, count, chunk, tags_each)
    else:
        await _seed_sqlite(store, count, chunk, tags_each)
    return time.perf_counter() - started


def _tag_rows(workspace_id: int) -> list[dict[str, Any]]:
    from chatbotx.kit.ids import new_id

    now = dt.datetime.now(dt.UTC)
    return [
        {
            "id": new_id(),
            "workspace_id": workspace_id,
            "name": f"tag-{n}",
            "created_at": now,
            "updated_at": now,
        }
        for n in range(TAGS_PER_WORKSPACE)
    ]


def _links(contacts: list[dict[str, Any]], tags: list[dict[str, Any]], start: int, each: int) -> list[Any]:
    now = dt.datetime.now(dt.UTC)
    return [
        (c["id"], tags[(start + i + k) % len(tags)]["id"], now)
        for i, c in enumerate(contacts)
        for k in range(each)
    ]


async def _seed_sqlite(store: Store, count: int, chunk: int, tags_each: int) -> None:
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import create_async_engine

    from chatbotx.models import Contact, ContactTag, Tag

    engine = create_async_engine(store.url)
    tags = _tag_rows(store.workspace_id)
    async with engine.begin() as conn:
        await conn.execute(insert(Tag), tags)
        for start in range(0, count, chunk):
            rows = list(contact_rows(store.workspace_id, start, min(chunk, count - start)))
            await conn.execute(insert(Contact), rows)
            links = _links(rows, tags, start, tags_each)
            await conn.execute(
                insert(ContactTag), [{"contact_id": a, "tag_id": b, "created_at": c} for a, b, c in links]
            )
    await engine.dispose()


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _seed_postgres(store: Store, count: int, chunk: int, tags_each: int) -> None:
    import asyncpg

    assert store.database_url
    conn = await asyncpg.connect(asyncpg_dsn(store.database_url))
    try:
        tags = _tag_rows(store.workspace_id)
        await conn.copy_records_to_table(
            "tag", records=[tuple(t.values()) for t in tags], columns=list(tags[0].keys())
        )
        for start in range(0, count, chunk):
            rows = list(contact_rows(store.workspace_id, start, min(chunk, count - start)))
            columns = list(rows[0].keys())
            await conn.copy_records_to_table(
                "contact", records=[tuple(r[c] for c in columns) for r in rows], columns=columns
            )
            await conn.copy_records_to_table(
                "contact_tag",
                records=_links(rows, tags, start, tags_each),
                columns=["contact_id", "tag_id", "created_at"],
            )
        # The state a database reaches minutes after a bulk load, once autovacuum came by: statistics, the
        # visibility map, and GIN's pending list (new trigram entries, read one by one by every keyword search
        # until merged; the import merges it itself) merged into the index.
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


# ---------------------------------------------------------------- processes


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str

    @property
    def pid(self) -> int:
        return self.proc.pid


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


@contextlib.contextmanager
def chatbotx_server(store: Store, *, workers: int = 1) -> Iterator[Server]:
    """`chatbotx server start` in a subprocess on a free port."""
    port = free_port()
    args = [str(BIN / "chatbotx"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        args += ["--workers", str(workers)]
    with _process(args, store.env(), f"http://127.0.0.1:{port}") as server:
        yield server


@contextlib.contextmanager
def bare_server(body_file: Path, *, workers: int = 1) -> Iterator[Server]:
    """A bare Starlette endpoint serving fixed bytes, under uvicorn with the server's settings."""
    port = free_port()
    args = [
        str(BIN / "uvicorn"),
        "bench.bare_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--workers",
        str(workers),
    ]
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file)}
    with _process(args, env, f"http://127.0.0.1:{port}") as server:
        yield server


@contextlib.contextmanager
def _process(args: list[str], env: dict[str, str], url: str) -> Iterator[Server]:
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(args, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_ready(proc, url)
        except RuntimeError:
            proc.terminate()
            _, err = proc.communicate(timeout=10)
            raise RuntimeError(f"{' '.join(args)} failed:\n{err.decode(errors='replace')[-3000:]}") from None
        yield Server(proc, url)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ---------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: str

    def line(self) -> str:
        extra = f"  non-2xx={self.non_2xx}" if self.non_2xx else ""
        extra += f"  errors: {self.errors}" if self.errors else ""
        rps = f"{self.requests_per_s:10.1f} req/s"
        return f"{rps}   p50 {self.p50_ms:8.2f} ms   p99 {self.p99_ms:8.2f} ms{extra}"


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    threads: int = 2,
    connections: int = 32,
    duration: str = "8s",
) -> WrkResult:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency"]
    for key, value in (headers or {}).items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:(.*)", out)
    return WrkResult(
        rps, p50, p99, int(non_2xx.group(1)) if non_2xx else 0, errors.group(1).strip() if errors else ""
    )
