"""Reading template messages; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.lists.paging import OptionalPageParams
from chatbotx.models import TemplateMessage


async def list_template_messages(
    session: AsyncSession,
    workspace_id: int,
    paging: OptionalPageParams,
    *,
    inbox_id: int | None = None,
    integration_whatsapp_id: str | None = None,
    status: str | None = None,
) -> Sequence[TemplateMessage]:
    stmt = select(TemplateMessage).where(TemplateMessage.workspace_id == workspace_id)
    if inbox_id is not None:
        stmt = stmt.where(TemplateMessage.inbox_id == inbox_id)
    if integration_whatsapp_id:
        stmt = stmt.where(TemplateMessage.integration_whatsapp_id == integration_whatsapp_id)
    if status:
        stmt = stmt.where(TemplateMessage.status == status)
    stmt = paging.apply(stmt.order_by(TemplateMessage.name, TemplateMessage.language, TemplateMessage.id))
    return (await session.execute(stmt)).scalars().all()
