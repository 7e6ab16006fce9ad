"""Alembic environment: runs migrations over the async engine for SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection

import chatbotx.models  # noqa: F401  (registers every table)
from chatbotx.kit.db import Base, UTCDateTime, make_engine

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our column types as plain SQLAlchemy ones so migrations don't import the app."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


# Tables made by hand-written migrations and kept out of the models (autogenerate must not drop them):
# contact_count (0003) and PostgreSQL's contact_search (0008), both written by database triggers.
UNMANAGED_TABLES = frozenset({"contact_count", "contact_search"})
# PostgreSQL-only objects of hand-written migrations (none left on contact since 0008).
UNMANAGED_COLUMNS: frozenset[str] = frozenset()
UNMANAGED_INDEXES: frozenset[str] = frozenset()


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if not reflected or compare_to is not None:
        return True
    unmanaged = {"table": UNMANAGED_TABLES, "column": UNMANAGED_COLUMNS, "index": UNMANAGED_INDEXES}
    return name not in unmanaged.get(type_, frozenset())


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        include_object=_include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "", pool_size=1)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())
