"""Database engine, sessions and the declarative base (SQLite in WAL mode, or PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import BigInteger, DateTime, MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from chatbotx.kit.ids import new_id
from chatbotx.settings import Settings, get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which forgets the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), int: BigInteger()}


class IdMixin:
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def _sqlite_reset(dbapi_conn: Any, _record: Any, reset_state: Any) -> None:
    """Roll back a connection returned to the pool only if SQLite has a transaction open on it.

    (A read outside a transaction leaves none, and each call is a round trip to aiosqlite's thread.)"""
    if not reset_state.terminate_only and dbapi_conn.driver_connection.in_transaction:
        dbapi_conn.rollback()


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An engine whose pool opens up to twice `pool_size` connections and keeps them all.

    (An overflow connection would be closed whenever `pool_size` others are already idle, which happens in
    every burst of requests finishing together, and reopened a moment later: a new PostgreSQL backend, and
    every statement prepared and planned again.)"""
    pool = {"pool_size": 2 * pool_size, "max_overflow": 0}
    if url.startswith("sqlite"):
        # Several connections write the file (this pool, other worker processes: `server start --workers`).
        # The driver (sqlite3's default transaction handling, kept on purpose) opens a transaction only at its
        # first INSERT/UPDATE/DELETE, so reads before it hold no snapshot, and that first write waits for the
        # write lock (busy_timeout). A BEGIN before the reads would make a later write fail at once with
        # SQLITE_BUSY whenever another connection committed in between (tests/kit/test_db.py).
        # check_same_thread=False: a short read may run on the driver's sqlite3 connection in the event loop's
        # thread while the connection is checked out (contacts.plain_list); aiosqlite's own thread is idle
        # then, and SQLite itself is built thread-safe.
        engine = create_async_engine(
            url,
            echo=echo,
            pool_reset_on_return=None,
            connect_args={"check_same_thread": False},
            **pool,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "reset", _sqlite_reset)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=False, pool_recycle=1800, **pool)


class Database:
    """The engine and session factory of one process."""

    def __init__(self, settings: Settings):
        self.settings = settings
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(settings.effective_database_url, pool_size=settings.db_pool_size)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    async def dispose(self) -> None:
        await self.engine.dispose()


_database: Database | None = None


def get_database() -> Database:
    global _database
    if _database is None:
        _database = Database(get_settings())
    return _database


def set_database(database: Database | None) -> None:
    global _database
    _database = database


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction commits; dropped on rollback."""
    session.info.setdefault("after_commit", []).append(callback)


async def commit(session: AsyncSession) -> None:
    await session.commit()
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        await callback()


async def get_session() -> AsyncIterator[AsyncSession]:
    """A session per request: committed when the endpoint returns, rolled back on error."""
    async with get_database().sessionmaker() as session:
        try:
            yield session
            await commit(session)
        except BaseException:
            session.info.pop("after_commit", None)
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
