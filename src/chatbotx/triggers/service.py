"""Reading triggers; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.lists.paging import OptionalPageParams
from chatbotx.models import Trigger


async def list_triggers(
    session: AsyncSession,
    workspace_id: int,
    paging: OptionalPageParams,
    *,
    event: str | None = None,
    active: bool | None = None,
) -> Sequence[Trigger]:
    stmt = select(Trigger).where(Trigger.workspace_id == workspace_id)
    if event:
        stmt = stmt.where(Trigger.event == event)
    if active is not None:
        stmt = stmt.where(Trigger.active.is_(active))
    stmt = paging.apply(stmt.order_by(Trigger.name, Trigger.id))
    return (await session.execute(stmt)).scalars().all()
