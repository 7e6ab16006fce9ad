"""Test fixtures: the app on SQLite and on PostgreSQL (when CHATBOTX_TEST_POSTGRES_URL is set).

Every API test runs once per backend. Each test gets a fresh workspace, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from chatbotx.app import create_app
from chatbotx.kit import db
from chatbotx.kit.migrate import upgrade_async
from chatbotx.kit.security import token_cache
from chatbotx.settings import Settings, get_settings

POSTGRES_URL = os.environ.get("CHATBOTX_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pytest_report_header(config: pytest.Config) -> list[str]:
    if POSTGRES_URL:
        return [f"PostgreSQL suite: ON ({POSTGRES_URL})"]
    return ["!!! PostgreSQL suite SKIPPED: set CHATBOTX_TEST_POSTGRES_URL to run it !!!"]


async def _fresh_postgres_database(url: str) -> str:
    """A new empty database on the server of `url`; returns its URL."""
    base = make_url(url)
    name = f"chatbotx_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_async_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


async def _drop_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
def tmp_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session", params=BACKENDS)
async def settings(request: pytest.FixtureRequest, tmp_data_dir: Path) -> AsyncIterator[Settings]:
    backend = request.param
    data_dir = tmp_data_dir / backend
    data_dir.mkdir(exist_ok=True)
    database_url = None
    if backend == "postgres":
        if not POSTGRES_URL:
            pytest.skip("CHATBOTX_TEST_POSTGRES_URL is not set")
        database_url = await _fresh_postgres_database(POSTGRES_URL)
    current = Settings(data_dir=data_dir, database_url=database_url, rate_limit_per_minute=0)
    await upgrade_async(current.effective_database_url)
    get_settings.cache_clear()
    os.environ["CHATBOTX_DATA_DIR"] = str(data_dir)
    if database_url:
        os.environ["CHATBOTX_DATABASE_URL"] = database_url
    else:
        os.environ.pop("CHATBOTX_DATABASE_URL", None)
    database = db.Database(current)
    db.set_database(database)
    token_cache.clear()
    yield current
    await database.dispose()
    db.set_database(None)
    if database_url:
        await _drop_postgres_database(database_url)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings)
    async with LifespanManager(application) as manager:
        yield manager.app


@dataclass
class Tenant:
    """A workspace with an owner token, and a client that sends that token."""

    workspace_id: str
    token: str
    client: httpx.AsyncClient


async def make_tenant(app: object, name: str = "Test workspace") -> Tenant:
    from chatbotx.workspaces import service

    async with db.get_database().sessionmaker() as session:
        workspace, _member, token = await service.create_workspace(
            session, name, f"owner-{uuid.uuid4().hex}@example.com"
        )
        await db.commit(session)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return Tenant(str(workspace.id), token, client)


@pytest.fixture
async def tenant(app: object) -> AsyncIterator[Tenant]:
    t = await make_tenant(app)
    yield t
    await t.client.aclose()


@pytest.fixture
async def other_tenant(app: object) -> AsyncIterator[Tenant]:
    t = await make_tenant(app, "Other workspace")
    yield t
    await t.client.aclose()


@pytest.fixture
def api(tenant: Tenant) -> httpx.AsyncClient:
    """An HTTP client authenticated as the owner of a fresh workspace."""
    return tenant.client


@pytest.fixture
async def anon(app: object) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client without a token."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:  # type: ignore[arg-type]
        yield client


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A PostgreSQL feature's test runs on PostgreSQL only (deselected, not skipped, on SQLite).
    sqlite_runs = [item for item in items if item.get_closest_marker("postgres_only") and _on_sqlite(item)]
    if sqlite_runs:
        config.hook.pytest_deselected(items=sqlite_runs)
        items[:] = [item for item in items if item not in sqlite_runs]
    # Run all SQLite tests, then all PostgreSQL ones, so each database is set up once.
    items.sort(key=lambda item: "postgres" in item.nodeid)


def _on_sqlite(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("settings") == "sqlite"


@contextlib.contextmanager
def statements_of_this_task() -> Iterator[list[str]]:
    """The SQL statements the calling task runs inside the block.

    The ASGI transport serves a request in the caller's task; the app's background workers (dispatcher,
    inbound sweeper) run in tasks of their own and are not counted."""
    statements: list[str] = []
    task = asyncio.current_task()

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if asyncio.current_task() is task:
            statements.append(statement)

    engine = db.get_database().engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
