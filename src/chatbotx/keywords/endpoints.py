"""Keywords: /api/v1/keywords."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chatbotx.keywords import service
from chatbotx.keywords.schemas import Keyword
from chatbotx.kit.db import SessionDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.lists.paging import OptionalPageDep
from chatbotx.lists.params import query_id

router = APIRouter(prefix="/api/v1/keywords", tags=["Keywords"])
Reader = Annotated[Principal, Depends(require("keywords.list"))]


@router.get(
    "",
    response_model=list[Keyword],
    **op("listKeywords", "List keywords (automated responses)", "keywords list"),
)
async def list_keywords(
    session: SessionDep,
    who: Reader,
    paging: OptionalPageDep,
    keyword: Annotated[str | None, Query(max_length=200, description="Name contains (any case)")] = None,
    inboxId: Annotated[str | None, Query(max_length=40, description="Only rules of this inbox")] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false) rules")] = None,
) -> object:
    return await service.list_keywords(
        session,
        who.workspace_id,
        paging,
        keyword=keyword,
        inbox_id=query_id(inboxId, "inboxId"),
        active=active,
    )
