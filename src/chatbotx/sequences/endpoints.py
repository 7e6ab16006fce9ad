"""Sequences: /api/v1/sequences."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from chatbotx.kit.db import SessionDep
from chatbotx.kit.ids import parse_id
from chatbotx.kit.pagination import SORT_DESCRIPTION, Page, PageDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.sequences import service
from chatbotx.sequences.schemas import Sequence, SequenceDetail

router = APIRouter(prefix="/api/v1/sequences", tags=["Sequences"])
Reader = Annotated[Principal, Depends(require("sequences.list"))]


@router.get("", response_model=Page[Sequence], **op("listSequences", "List sequences", "sequences list"))
async def list_sequences(
    session: SessionDep,
    who: Reader,
    paging: PageDep,
    sort: Annotated[
        str | None, Query(max_length=500, description=SORT_DESCRIPTION + "; by createdAt, updatedAt or name")
    ] = None,
) -> object:
    data, page_count = await service.list_sequences(session, who.workspace_id, paging, sort)
    return {"data": data, "pageCount": page_count}


@router.get(
    "/{id}", response_model=SequenceDetail, **op("getSequence", "Get sequence details", "sequences get")
)
async def get_sequence(
    session: SessionDep, who: Reader, id: Annotated[str, Path(description="Sequence id", max_length=40)]
) -> object:
    return await service.get_sequence(session, who.workspace_id, parse_id(id))
