"""Reading keyword rules; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.lists.paging import OptionalPageParams
from chatbotx.lists.params import contains_any
from chatbotx.models import Keyword


async def list_keywords(
    session: AsyncSession,
    workspace_id: int,
    paging: OptionalPageParams,
    *,
    keyword: str | None = None,
    inbox_id: int | None = None,
    active: bool | None = None,
) -> Sequence[Keyword]:
    stmt = select(Keyword).where(Keyword.workspace_id == workspace_id)
    if keyword:
        stmt = stmt.where(contains_any(keyword, Keyword.name))
    if inbox_id is not None:
        stmt = stmt.where(Keyword.inbox_id == inbox_id)
    if active is not None:
        stmt = stmt.where(Keyword.active.is_(active))
    # The order the matcher checks them in: priority first.
    stmt = paging.apply(stmt.order_by(Keyword.priority.desc(), Keyword.name, Keyword.id))
    return (await session.execute(stmt)).scalars().all()
