"""Tags on a contact: list, add, remove (DELETE takes the same JSON body as POST)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from chatbotx.contact_tags import service
from chatbotx.contact_tags.schemas import ContactTagsChange
from chatbotx.contacts.identifiers import resolve_contact
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES, ErrorBody
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.tags.schemas import Tag

router = APIRouter(prefix="/api/v1/contacts/{identifier}/tags", tags=["Contacts"])
Reader = Annotated[Principal, Depends(require("contacts.list"))]
Editor = Annotated[Principal, Depends(require("contacts.edit"))]
# A route with a JSON body can also answer 400 MALFORMED_JSON.
BODY_RESPONSES = {**ERROR_RESPONSES, 400: {"model": ErrorBody, "description": "Malformed JSON body"}}
Identifier = Annotated[
    str, Path(description="id:<id>, email:<address>, phone:<+E.164> or a bare id", max_length=400)
]


@router.get(
    "",
    response_model=list[Tag],
    **op("listContactTags", "Get all tags added to this contact", "contacts tags list"),
)
async def list_contact_tags(session: SessionDep, who: Reader, identifier: Identifier) -> object:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    return await service.list_contact_tags(session, contact)


@router.post(
    "",
    status_code=204,
    response_class=Response,
    **op("addContactTags", "Add tags to the contact", "contacts tag add", responses=BODY_RESPONSES),
)
async def add_contact_tags(
    session: SessionDep, who: Editor, identifier: Identifier, body: ContactTagsChange
) -> None:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    await service.add_tags(session, contact, body.tag_ids)


@router.delete(
    "",
    status_code=204,
    response_class=Response,
    **op(
        "removeContactTags", "Remove tags from the contact", "contacts tag delete", responses=BODY_RESPONSES
    ),
)
async def remove_contact_tags(
    session: SessionDep, who: Editor, identifier: Identifier, body: ContactTagsChange
) -> None:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    await service.remove_tags(session, contact, body.tag_ids)
