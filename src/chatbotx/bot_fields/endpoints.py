"""Bot fields: /api/v1/bot-fields."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from chatbotx.bot_fields import service
from chatbotx.bot_fields.schemas import (
    BULK_MAX,
    SET_MANY_MAX,
    BotField,
    BotFieldCreate,
    BotFieldsBulkUpdate,
    BotFieldsSet,
    BotFieldValue,
)
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES, ErrorBody
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require

router = APIRouter(prefix="/api/v1/bot-fields", tags=["Bot Fields"])
BODY_ERRORS = {**ERROR_RESPONSES, 400: {"model": ErrorBody, "description": "Malformed JSON body"}}
CREATE_ERRORS = {
    **BODY_ERRORS,
    409: {"model": ErrorBody, "description": "The name is taken (DUPLICATE_NAME)"},
}
Reader = Annotated[Principal, Depends(require("bot_fields.list"))]
Editor = Annotated[Principal, Depends(require("bot_fields.edit"))]
IdOrName = Annotated[str, Path(description="Bot field id or name", max_length=200)]


@router.get("", response_model=list[BotField], **op("listBotFields", "Get all bot fields", "bot-fields list"))
async def list_bot_fields(
    session: SessionDep,
    who: Reader,
    keyword: Annotated[str | None, Query(max_length=200, description="Filter by name (contains)")] = None,
) -> object:
    return await service.list_fields(session, who.workspace_id, keyword)


@router.post(
    "",
    status_code=201,
    response_model=BotField,
    **op("createBotField", "Create a new bot field", "bot-fields create", responses=CREATE_ERRORS),
)
async def create_bot_field(session: SessionDep, who: Editor, body: BotFieldCreate) -> object:
    return await service.create(session, who.workspace_id, body)


@router.put(
    "",
    status_code=204,
    response_class=Response,
    **op(
        "setBotFields",
        "Set multiple bot field values",
        "bot-fields update",
        description=f"Set the values of 1 to {SET_MANY_MAX} bot fields, each named by `id` or by `name`. "
        "All or nothing: if any field is unknown or any value invalid, nothing changes.",
        responses=BODY_ERRORS,
    ),
)
async def set_bot_fields(session: SessionDep, who: Editor, body: BotFieldsSet) -> None:
    items = [(service.ref_of(item), item.value) for item in body.fields]
    await service.set_values(session, who.workspace_id, items)


# Declared before "/{idOrName}" so that "bulk-update" is not read as a field name.
@router.put(
    "/bulk-update",
    status_code=204,
    response_class=Response,
    **op(
        "bulkUpdateBotFields",
        "Bulk update bot field values by id or name",
        "bot-fields bulk-update",
        description=f"Set the values of 1 to {BULK_MAX} bot fields, each named by `idOrName` (an id, else a "
        "name), `id` or `name`. All or nothing.",
        responses=BODY_ERRORS,
    ),
)
async def bulk_update_bot_fields(session: SessionDep, who: Editor, body: BotFieldsBulkUpdate) -> None:
    items = [(service.ref_of(item), item.value) for item in body.fields]
    await service.set_values(session, who.workspace_id, items)


@router.get(
    "/{idOrName}",
    response_model=BotField,
    **op("getBotField", "Get bot field by id or name", "bot-fields get"),
)
async def get_bot_field(session: SessionDep, who: Reader, idOrName: IdOrName) -> object:
    return await service.get_by_id_or_name(session, who.workspace_id, idOrName)


@router.put(
    "/{idOrName}",
    response_model=BotField,
    **op("setBotField", "Set bot field value by id or name", "bot-fields update", responses=BODY_ERRORS),
)
async def set_bot_field(session: SessionDep, who: Editor, idOrName: IdOrName, body: BotFieldValue) -> object:
    return await service.set_value(session, who.workspace_id, idOrName, body.value)


@router.delete(
    "/{idOrName}",
    status_code=204,
    response_class=Response,
    **op(
        "deleteBotFields",
        "Unset the value of the bot field by id or name",
        "bot-fields delete",
        description="Unset the value of the bot field by id or name. The field itself is kept.",
    ),
)
async def delete_bot_fields(session: SessionDep, who: Editor, idOrName: IdOrName) -> None:
    await service.unset_value(session, who.workspace_id, idOrName)
