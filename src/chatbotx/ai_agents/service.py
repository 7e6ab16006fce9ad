"""Reading AI agents; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.lists.paging import OptionalPageParams
from chatbotx.models import AiAgent


async def list_ai_agents(
    session: AsyncSession, workspace_id: int, paging: OptionalPageParams, *, active: bool | None = None
) -> Sequence[AiAgent]:
    stmt = select(AiAgent).where(AiAgent.workspace_id == workspace_id)
    if active is not None:
        stmt = stmt.where(AiAgent.active.is_(active))
    stmt = paging.apply(stmt.order_by(AiAgent.name, AiAgent.id))
    return (await session.execute(stmt)).scalars().all()
