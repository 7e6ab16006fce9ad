"""One way to page: page/perPage (capped at 50) with pageCount, `sort` as JSON, and opaque cursors."""

from __future__ import annotations

import base64
import math
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.errors import invalid_field

T = TypeVar("T")
MAX_PER_PAGE = 50
MAX_PAGE = 9007199254740991


class Page(BaseModel, Generic[T]):
    data: list[T]
    pageCount: int = Field(description="ceil(total / perPage)")


class CursorPage(BaseModel, Generic[T]):
    data: list[T]
    nextCursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null at the end."
    )


class PageParams:
    def __init__(
        self,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")] = 1,
        perPage: Annotated[
            int, Query(ge=1, le=MAX_PAGE, description="Items per page (default 20, capped at 50)")
        ] = 20,
    ):
        self.page = page
        self.per_page = min(perPage, MAX_PER_PAGE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def page_count(self, total: int) -> int:
        return math.ceil(total / self.per_page) if total else 0


PageDep = Annotated[PageParams, Depends()]

SORT_DESCRIPTION = 'URL-encoded JSON: [{"id":"createdAt","desc":true}]'


def parse_sort(raw: str | None, allowed: dict[str, Any], default: list[Any]) -> list[Any]:
    """ORDER BY clauses for a `sort` parameter, each `id` checked against `allowed` (name -> column)."""
    if not raw:
        return default
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_field("sort", 'must be JSON like [{"id":"createdAt","desc":true}]') from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise invalid_field("sort", "must be a JSON array")
    clauses = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise invalid_field("sort", 'each item needs an "id"')
        column = allowed.get(item["id"])
        if column is None:
            raise invalid_field("sort", f"cannot sort by {item['id']!r}; one of {', '.join(sorted(allowed))}")
        desc = item.get("desc", False)
        if not isinstance(desc, bool):
            raise invalid_field("sort", '"desc" must be true or false')
        clauses.append(column.desc() if desc else column.asc())
    return clauses or default


async def paginate(session: AsyncSession, stmt: Select[Any], params: PageParams) -> tuple[list[Any], int]:
    """One page of `stmt`'s rows and the page count."""
    total = (
        await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ).scalar_one()
    rows = (await session.execute(stmt.limit(params.per_page).offset(params.offset))).scalars().all()
    return list(rows), params.page_count(total)


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise invalid_field("cursor", "is not a cursor this API gave out") from None
    if value <= 0 or value >= 2**63:
        raise invalid_field("cursor", "is not a cursor this API gave out")
    return value
