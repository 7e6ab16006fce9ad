"""Custom fields: /api/v1/custom-fields."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from chatbotx.custom_fields import service
from chatbotx.custom_fields.schemas import CustomField, CustomFieldCreate, CustomFieldUpdate
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES, ErrorBody
from chatbotx.kit.ids import parse_id
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require

router = APIRouter(prefix="/api/v1/custom-fields", tags=["Custom Fields"])
WRITE_ERRORS = {
    **ERROR_RESPONSES,
    400: {
        "model": ErrorBody,
        "description": "Malformed JSON body, or the type cannot change (FIELD_HAS_VALUES)",
    },
    409: {"model": ErrorBody, "description": "The name is taken (DUPLICATE_NAME)"},
}
Reader = Annotated[Principal, Depends(require("custom_fields.list"))]
Editor = Annotated[Principal, Depends(require("custom_fields.edit"))]
FieldId = Annotated[str, Path(description="Custom field id", max_length=40)]


@router.get(
    "",
    response_model=list[CustomField],
    **op("listCustomFields", "Get all custom fields", "custom-fields list"),
)
async def list_custom_fields(
    session: SessionDep,
    who: Reader,
    keyword: Annotated[str | None, Query(max_length=200, description="Filter by name (contains)")] = None,
) -> object:
    return await service.list_fields(session, who.workspace_id, keyword)


@router.post(
    "",
    status_code=201,
    response_model=CustomField,
    **op("createCustomField", "Create a custom field", "custom-fields create", responses=WRITE_ERRORS),
)
async def create_custom_field(session: SessionDep, who: Editor, body: CustomFieldCreate) -> object:
    return await service.create(session, who.workspace_id, body)


@router.get(
    "/{idOrName}",
    response_model=CustomField,
    **op("getCustomField", "Get custom field by id or name", "custom-fields get"),
)
async def get_custom_field(
    session: SessionDep,
    who: Reader,
    idOrName: Annotated[str, Path(description="Custom field id or name", max_length=200)],
) -> object:
    return await service.get_by_id_or_name(session, who.workspace_id, idOrName)


@router.put(
    "/{id}",
    response_model=CustomField,
    **op("updateCustomField", "Update custom field", "custom-fields update", responses=WRITE_ERRORS),
)
async def update_custom_field(
    session: SessionDep, who: Editor, id: FieldId, body: CustomFieldUpdate
) -> object:
    return await service.update(session, who.workspace_id, parse_id(id), body)


@router.delete(
    "/{id}",
    status_code=204,
    response_class=Response,
    **op("deleteCustomField", "Delete custom field", "custom-fields delete"),
)
async def delete_custom_field(session: SessionDep, who: Editor, id: FieldId) -> None:
    await service.delete(session, who.workspace_id, parse_id(id))
