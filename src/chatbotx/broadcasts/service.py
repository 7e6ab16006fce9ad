"""Reading broadcasts and their audiences; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.contacts.serialize import contacts_out
from chatbotx.kit.errors import ApiError, BusinessError, NotFound
from chatbotx.kit.lookup import by_id_or_name
from chatbotx.kit.pagination import PageParams, paginate
from chatbotx.lists.audience import contact_filter_where
from chatbotx.lists.paging import OptionalPageParams
from chatbotx.lists.params import contains_any
from chatbotx.models import Broadcast, Contact


async def list_broadcasts(
    session: AsyncSession,
    workspace_id: int,
    paging: OptionalPageParams,
    *,
    keyword: str | None = None,
    status: str | None = None,
) -> Sequence[Broadcast]:
    stmt = select(Broadcast).where(Broadcast.workspace_id == workspace_id)
    if keyword:
        stmt = stmt.where(contains_any(keyword, Broadcast.name))
    if status:
        stmt = stmt.where(Broadcast.status == status)
    stmt = paging.apply(stmt.order_by(Broadcast.created_at.desc(), Broadcast.id.desc()))
    return (await session.execute(stmt)).scalars().all()


async def get_by_id_or_name(session: AsyncSession, workspace_id: int, id_or_name: str) -> Broadcast:
    """By id, else by exact name: the newest broadcast of that name (names need not be unique)."""
    stmt = (
        select(Broadcast)
        .where(Broadcast.workspace_id == workspace_id)
        .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
    )
    not_found = NotFound(f"Broadcast {id_or_name!r} not found.", resource="broadcast")
    return await by_id_or_name(session, stmt, Broadcast.id, Broadcast.name, id_or_name, not_found)


async def audience(
    session: AsyncSession, workspace_id: int, id_or_name: str, params: PageParams
) -> tuple[list[dict[str, Any]], int]:
    """One page of the contacts matching the broadcast's audience filter, newest first, as full contacts."""
    broadcast = await get_by_id_or_name(session, workspace_id, id_or_name)
    try:
        matches = await contact_filter_where(session, workspace_id, broadcast.audience or {})
    except ApiError as exc:
        # The filter is stored data, not this request's input: a broken one is the broadcast's problem.
        raise BusinessError(
            f"The broadcast's audience filter is invalid: {exc.message}",
            code="INVALID_AUDIENCE",
            broadcastId=str(broadcast.id),
        ) from None
    stmt = (
        select(Contact)
        .where(Contact.workspace_id == workspace_id, matches)
        .order_by(Contact.created_at.desc(), Contact.id.desc())
    )
    contacts, page_count = await paginate(session, stmt, params)
    return await contacts_out(session, contacts), page_count
