"""Reading integrations; every query is scoped to the workspace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.lists.paging import OptionalPageParams
from chatbotx.models import Integration


def integration_out(row: Integration) -> dict[str, Any]:
    """The response fields of an integration; `credentials` itself never leaves this function."""
    return {
        "id": row.id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "name": row.name,
        "kind": row.kind,
        "status": row.status,
        "config": row.config or {},
        "credentials_set": bool(row.credentials),
        "workspace_id": row.workspace_id,
    }


async def list_integrations(
    session: AsyncSession,
    workspace_id: int,
    paging: OptionalPageParams,
    *,
    kind: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    stmt = select(Integration).where(Integration.workspace_id == workspace_id)
    if kind:
        stmt = stmt.where(Integration.kind == kind)
    if status:
        stmt = stmt.where(Integration.status == status)
    stmt = paging.apply(stmt.order_by(Integration.name, Integration.id))
    return [integration_out(row) for row in (await session.execute(stmt)).scalars()]
