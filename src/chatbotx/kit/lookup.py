"""Finding a row by "id or name", the way every `{idOrName}` path parameter works."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from chatbotx.kit.errors import NotFound
from chatbotx.kit.ids import parse_id

T = TypeVar("T")


async def by_id_or_name(
    session: AsyncSession,
    stmt: Select[T],
    id_column: InstrumentedAttribute[Any],
    name_column: InstrumentedAttribute[Any],
    id_or_name: str,
    not_found: NotFound,
) -> T:
    """The row of `stmt` (already scoped to the workspace) whose id is `id_or_name` when it is one, else the
    first one named exactly so: a name made of digits is still found by name. `not_found` when neither."""
    row_id = parse_id(id_or_name)
    if row_id is not None:
        row = await session.scalar(stmt.where(id_column == row_id))
        if row is not None:
            return row
    row = await session.scalar(stmt.where(name_column == id_or_name))
    if row is None:
        raise not_found
    return row
