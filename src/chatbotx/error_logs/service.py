"""Reading the error log; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.pagination import PageParams, paginate, parse_sort
from chatbotx.lists.params import contains_any
from chatbotx.models import ErrorLog

SORTS = {"createdAt": ErrorLog.created_at, "code": ErrorLog.code, "source": ErrorLog.source}


async def list_error_logs(
    session: AsyncSession, workspace_id: int, params: PageParams, sort: str | None, keyword: str | None
) -> tuple[Sequence[ErrorLog], int]:
    order = [*parse_sort(sort, SORTS, [ErrorLog.created_at.desc()]), ErrorLog.id.desc()]
    stmt = select(ErrorLog).where(ErrorLog.workspace_id == workspace_id)
    if keyword:
        stmt = stmt.where(contains_any(keyword, ErrorLog.code, ErrorLog.message, ErrorLog.source))
    return await paginate(session, stmt.order_by(*order), params)
