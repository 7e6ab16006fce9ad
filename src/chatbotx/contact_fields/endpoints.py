"""Custom field values on a contact: list, set many, clear all, and get/set/clear one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from chatbotx.contact_fields import service
from chatbotx.contact_fields.schemas import (
    ContactCustomFieldSet,
    ContactCustomFieldsSet,
    ContactCustomFieldValue,
)
from chatbotx.contacts.identifiers import resolve_contact
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES, ErrorBody
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require

router = APIRouter(prefix="/api/v1/contacts/{identifier}/custom-fields", tags=["Contacts"])
Reader = Annotated[Principal, Depends(require("contacts.list"))]
Editor = Annotated[Principal, Depends(require("contacts.edit"))]
# A route with a JSON body can also answer 400 MALFORMED_JSON.
BODY_RESPONSES = {**ERROR_RESPONSES, 400: {"model": ErrorBody, "description": "Malformed JSON body"}}
Identifier = Annotated[
    str, Path(description="id:<id>, email:<address>, phone:<+E.164> or a bare id", max_length=400)
]
FieldId = Annotated[str, Path(description="Custom field id (an exact name works too)", max_length=200)]
FieldIdOrName = Annotated[str, Path(description="Custom field id or exact name", max_length=200)]


@router.get(
    "",
    response_model=list[ContactCustomFieldValue],
    **op("listContactCustomFields", "Get all custom fields from a contact", "contacts custom-fields list"),
)
async def list_contact_custom_fields(session: SessionDep, who: Reader, identifier: Identifier) -> object:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    return await service.list_values(session, contact)


@router.put(
    "",
    status_code=204,
    response_class=Response,
    **op(
        "setContactCustomFields",
        "Set multiple custom field values for a contact",
        "contacts custom-fields update",
        description="Set up to 20 values at once, each field named by customFieldId, id or name; "
        "null clears a value. All or nothing: an unknown field (404) or a bad value (422) writes nothing.",
        responses=BODY_RESPONSES,
    ),
)
async def set_contact_custom_fields(
    session: SessionDep, who: Editor, identifier: Identifier, body: ContactCustomFieldsSet
) -> None:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    await service.set_values(session, contact, body.fields)


@router.delete(
    "",
    status_code=204,
    response_class=Response,
    **op(
        "clearContactCustomFields", "Clear all custom fields from a contact", "contacts custom-fields clear"
    ),
)
async def clear_contact_custom_fields(session: SessionDep, who: Editor, identifier: Identifier) -> None:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    await service.clear_values(session, contact)


@router.get(
    "/{customFieldId}",
    response_model=ContactCustomFieldValue,
    **op("getContactCustomField", "Get contact custom field value", "contacts custom-field get"),
)
async def get_contact_custom_field(
    session: SessionDep, who: Reader, identifier: Identifier, customFieldId: FieldId
) -> object:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    return await service.get_value(session, contact, customFieldId)


@router.post(
    "/{customFieldId}",
    response_model=ContactCustomFieldValue,
    **op(
        "setContactCustomField",
        "Set contact custom field value",
        "contacts custom-field add",
        responses=BODY_RESPONSES,
    ),
)
async def set_contact_custom_field(
    session: SessionDep,
    who: Editor,
    identifier: Identifier,
    customFieldId: FieldId,
    body: ContactCustomFieldSet,
) -> object:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    return await service.set_value(session, contact, customFieldId, body.value)


@router.delete(
    "/{idOrName}",
    status_code=204,
    response_class=Response,
    **op(
        "clearContactCustomField", "Delete contact custom field by id or name", "contacts custom-field delete"
    ),
)
async def clear_contact_custom_field(
    session: SessionDep, who: Editor, identifier: Identifier, idOrName: FieldIdOrName
) -> None:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    await service.clear_value(session, contact, idOrName)
