"""Broadcasts: /api/v1/broadcasts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from chatbotx.broadcasts import service
from chatbotx.broadcasts.schemas import Broadcast
from chatbotx.contacts.schemas import Contact
from chatbotx.kit.db import SessionDep
from chatbotx.kit.pagination import Page, PageDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.lists.paging import OptionalPageDep

router = APIRouter(prefix="/api/v1/broadcasts", tags=["Broadcasts"])
Reader = Annotated[Principal, Depends(require("broadcasts.list"))]
IdOrName = Annotated[str, Path(description="Broadcast id or name", max_length=200)]


@router.get(
    "", response_model=list[Broadcast], **op("listBroadcasts", "Get all broadcasts", "broadcasts list")
)
async def list_broadcasts(
    session: SessionDep,
    who: Reader,
    paging: OptionalPageDep,
    keyword: Annotated[str | None, Query(max_length=200, description="Name contains (any case)")] = None,
    status: Annotated[str | None, Query(max_length=16, description="Only broadcasts in this status")] = None,
) -> object:
    return await service.list_broadcasts(session, who.workspace_id, paging, keyword=keyword, status=status)


@router.get(
    "/{idOrName}",
    response_model=Broadcast,
    **op("getBroadcast", "Get broadcast by id or name", "broadcasts get"),
)
async def get_broadcast(session: SessionDep, who: Reader, idOrName: IdOrName) -> object:
    return await service.get_by_id_or_name(session, who.workspace_id, idOrName)


@router.get(
    "/{idOrName}/audience",
    response_model=Page[Contact],
    # The audience is a list of contacts, so reading it takes the contacts scope too.
    dependencies=[Depends(require("contacts.list"))],
    **op("getBroadcastAudience", "Get broadcast audience", "broadcasts audience get"),
)
async def get_broadcast_audience(
    session: SessionDep, who: Reader, idOrName: IdOrName, paging: PageDep
) -> object:
    data, page_count = await service.audience(session, who.workspace_id, idOrName, paging)
    return {"data": data, "pageCount": page_count}
