"""Tags: /api/v1/tags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from chatbotx.kit.db import SessionDep
from chatbotx.kit.ids import parse_id
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.tags import service
from chatbotx.tags.schemas import Tag, TagCreate, TagUpdate

router = APIRouter(prefix="/api/v1/tags", tags=["Tags"])
Reader = Annotated[Principal, Depends(require("tags.list"))]
Editor = Annotated[Principal, Depends(require("tags.edit"))]
TagId = Annotated[str, Path(description="Tag id", max_length=40)]


@router.get("", response_model=list[Tag], **op("listTags", "Get all tags", "tags list"))
async def list_tags(
    session: SessionDep,
    who: Reader,
    keyword: Annotated[str | None, Query(max_length=200, description="Filter by name (contains)")] = None,
) -> object:
    return await service.list_tags(session, who.workspace_id, keyword)


@router.post("", status_code=201, response_model=Tag, **op("createTag", "Create a new tag", "tags create"))
async def create_tag(session: SessionDep, who: Editor, body: TagCreate) -> object:
    return await service.create(session, who.workspace_id, body)


@router.get("/{idOrName}", response_model=Tag, **op("getTag", "Get tag by id or name", "tags get"))
async def get_tag(
    session: SessionDep,
    who: Reader,
    idOrName: Annotated[str, Path(description="Tag id or name", max_length=200)],
) -> object:
    return await service.get_by_id_or_name(session, who.workspace_id, idOrName)


@router.put("/{id}", response_model=Tag, **op("updateTag", "Update tag", "tags update"))
async def update_tag(session: SessionDep, who: Editor, id: TagId, body: TagUpdate) -> object:
    return await service.update(session, who.workspace_id, parse_id(id), body)


@router.delete(
    "/{id}", status_code=204, response_class=Response, **op("deleteTag", "Delete tag", "tags delete")
)
async def delete_tag(session: SessionDep, who: Editor, id: TagId) -> None:
    await service.delete(session, who.workspace_id, parse_id(id))
