"""Reading webhooks; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.lists.paging import OptionalPageParams
from chatbotx.models import Webhook


async def list_webhooks(
    session: AsyncSession, workspace_id: int, paging: OptionalPageParams, *, active: bool | None = None
) -> Sequence[Webhook]:
    stmt = select(Webhook).where(Webhook.workspace_id == workspace_id)
    if active is not None:
        stmt = stmt.where(Webhook.active.is_(active))
    stmt = paging.apply(stmt.order_by(Webhook.created_at, Webhook.id))
    return (await session.execute(stmt)).scalars().all()
