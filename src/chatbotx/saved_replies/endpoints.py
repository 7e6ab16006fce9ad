"""Saved replies: /api/v1/saved-replies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES, ErrorBody
from chatbotx.kit.ids import parse_id
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.saved_replies import service
from chatbotx.saved_replies.schemas import SavedReply, SavedReplyCreate, SavedReplyUpdate

router = APIRouter(prefix="/api/v1/saved-replies", tags=["Saved Replies"])
WRITE_ERRORS = {
    **ERROR_RESPONSES,
    400: {"model": ErrorBody, "description": "Malformed JSON body"},
    409: {"model": ErrorBody, "description": "The shortcut is taken (DUPLICATE_SHORTCUT)"},
}
Reader = Annotated[Principal, Depends(require("saved_replies.list"))]
Editor = Annotated[Principal, Depends(require("saved_replies.edit"))]
ReplyId = Annotated[str, Path(description="Saved reply id", max_length=40)]


@router.get(
    "", response_model=list[SavedReply], **op("listSavedReplies", "List saved replies", "saved-replies list")
)
async def list_saved_replies(
    session: SessionDep,
    who: Reader,
    keyword: Annotated[
        str | None, Query(max_length=200, description="Matches shortcut or text (contains)")
    ] = None,
) -> object:
    return await service.list_replies(session, who.workspace_id, keyword)


@router.post(
    "",
    status_code=201,
    response_model=SavedReply,
    **op("createSavedReply", "Create a saved reply", "saved-replies create", responses=WRITE_ERRORS),
)
async def create_saved_reply(session: SessionDep, who: Editor, body: SavedReplyCreate) -> object:
    return await service.create(session, who.workspace_id, body)


@router.get(
    "/{id}", response_model=SavedReply, **op("getSavedReply", "Get saved reply by id", "saved-replies get")
)
async def get_saved_reply(session: SessionDep, who: Reader, id: ReplyId) -> object:
    return await service.get(session, who.workspace_id, parse_id(id))


@router.put(
    "/{id}",
    response_model=SavedReply,
    **op("updateSavedReply", "Update saved reply", "saved-replies update", responses=WRITE_ERRORS),
)
async def update_saved_reply(session: SessionDep, who: Editor, id: ReplyId, body: SavedReplyUpdate) -> object:
    return await service.update(session, who.workspace_id, parse_id(id), body)


@router.delete(
    "/{id}",
    status_code=204,
    response_class=Response,
    **op("deleteSavedReply", "Delete saved reply", "saved-replies delete"),
)
async def delete_saved_reply(session: SessionDep, who: Editor, id: ReplyId) -> None:
    await service.delete(session, who.workspace_id, parse_id(id))
