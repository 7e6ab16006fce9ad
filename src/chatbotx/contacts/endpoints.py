"""Contacts: /api/v1/contacts: list, CRUD, upsert, find by custom field, block, notes."""

from __future__ import annotations

import typing
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from chatbotx.contacts import service
from chatbotx.contacts.filters import CHANNELS, parse_contact_filter
from chatbotx.contacts.schemas import (
    Contact,
    ContactCreate,
    ContactNote,
    ContactNoteCreate,
    ContactUpdate,
    ContactUpsert,
)
from chatbotx.contacts.serialize import dumps_json
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import invalid_field
from chatbotx.kit.ids import parse_id
from chatbotx.kit.pagination import SORT_DESCRIPTION, Page, PageDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require

router = APIRouter(prefix="/api/v1/contacts", tags=["Contacts"])
Reader = Annotated[Principal, Depends(require("contacts.list"))]
Editor = Annotated[Principal, Depends(require("contacts.edit"))]
Identifier = Annotated[
    str,
    Path(
        description="id:<id>, email:<address>, phone:<+E.164>, or a bare id",
        max_length=400,
        examples=["id:612345678901234567", "email:ann@example.com", "phone:+84901234567"],
    ),
]
Channel = Literal[
    "omnichannel", "webchat", "messenger", "whatsapp", "zalo", "smtp", "telegram", "instagram", "tiktok"
]
assert set(CHANNELS) == set(typing.get_args(Channel))  # one list of channels

FILTER_DESCRIPTION = (
    'URL-encoded JSON: {"operator":"and","conditions":[{"field":"country","operator":"in","value":["VN"]}]}. '
    "See docs/contacts.md for the fields and operators."
)


def _inbox_ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            parsed = parse_id(part.strip())
            if parsed is None:
                raise invalid_field("inboxIds", f"{part.strip()!r} is not an inbox id")
            ids.append(parsed)
    return ids


@router.get(
    "",
    response_model=Page[Contact],
    **op("listContacts", "List contacts", "contacts list"),
)
async def list_contacts(
    session: SessionDep,
    who: Reader,
    page: PageDep,
    sort: Annotated[str | None, Query(max_length=2000, description=SORT_DESCRIPTION)] = None,
    keyword: Annotated[
        str | None, Query(max_length=200, description="Contains, any case, in name, email or phone")
    ] = None,
    contactFilter: Annotated[str | None, Query(max_length=20_000, description=FILTER_DESCRIPTION)] = None,
    channels: Annotated[
        list[Channel] | None, Query(description="Contacts on an inbox of one of these channels")
    ] = None,
    channels_brackets: Annotated[
        list[Channel] | None, Query(alias="channels[]", include_in_schema=False)
    ] = None,
    inboxIds: Annotated[
        list[str] | None, Query(description="Contacts on one of these inboxes (ids)", max_length=200)
    ] = None,
    inbox_ids_brackets: Annotated[
        list[str] | None, Query(alias="inboxIds[]", include_in_schema=False)
    ] = None,
) -> Response:
    query = service.ListQuery(
        sort=sort,
        keyword=keyword,
        contact_filter=parse_contact_filter(contactFilter),
        channels=[*(channels or ()), *(channels_brackets or ())],
        inbox_ids=_inbox_ids([*(inboxIds or ()), *(inbox_ids_brackets or ())]),
    )
    data, page_count = await service.list_contacts(session, who.workspace_id, page, query)
    # Pre-serialized: the dicts have the response model's shape (a test checks them against Page[Contact]).
    return Response(dumps_json({"data": data, "pageCount": page_count}), media_type="application/json")


@router.post("", response_model=Contact, **op("createContact", "Create a contact", "contacts create"))
async def create_contact(session: SessionDep, who: Editor, body: ContactCreate) -> object:
    contact = await service.create(session, who.workspace_id, body)
    return await service.out(session, contact)


@router.get(
    "/find-by-custom-field",
    response_model=list[Contact],
    **op("filterContacts", "List contacts by custom field", "contacts find-by-custom-field"),
)
async def filter_contacts(
    session: SessionDep,
    who: Reader,
    customFieldId: Annotated[str, Query(max_length=40, description="Custom field id")],
    value: Annotated[str, Query(max_length=10_000, description="Value, read in the field's type")],
) -> object:
    return await service.find_by_custom_field(session, who.workspace_id, customFieldId, value)


@router.get(
    "/{identifier}",
    response_model=Contact,
    **op(
        "getContact",
        "Get contact by identifier (id:123, email:user@example.com, phone:+84...)",
        "contacts get",
    ),
)
async def get_contact(session: SessionDep, who: Reader, identifier: Identifier) -> object:
    return await service.get(session, who.workspace_id, identifier)


@router.put(
    "/{identifier}",
    status_code=204,
    response_class=Response,
    **op("updateContact", "Update contact fields", "contacts update"),
)
async def update_contact(
    session: SessionDep, who: Editor, identifier: Identifier, body: ContactUpdate
) -> None:
    await service.update(session, who.workspace_id, identifier, body)


@router.delete(
    "/{identifier}",
    status_code=204,
    response_class=Response,
    **op("deleteContact", "Delete a contact", "contacts delete"),
)
async def delete_contact(session: SessionDep, who: Editor, identifier: Identifier) -> None:
    await service.delete(session, who.workspace_id, identifier)


@router.post(
    "/{identifier}/upsert",
    response_model=Contact,
    **op("upsertContact", "Upsert a contact by identifier", "contacts upsert"),
)
async def upsert_contact(
    session: SessionDep, who: Editor, identifier: Identifier, body: ContactUpsert
) -> object:
    contact, _created = await service.upsert(session, who.workspace_id, identifier, body)
    return await service.out(session, contact)


@router.post(
    "/{identifier}/block",
    status_code=204,
    response_class=Response,
    **op("blockContact", "Block a contact", "contacts block"),
)
async def block_contact(session: SessionDep, who: Editor, identifier: Identifier) -> None:
    await service.set_blocked(session, who.workspace_id, identifier, True)


@router.post(
    "/{identifier}/unblock",
    status_code=204,
    response_class=Response,
    **op("unblockContact", "Unblock a contact", "contacts unblock"),
)
async def unblock_contact(session: SessionDep, who: Editor, identifier: Identifier) -> None:
    await service.set_blocked(session, who.workspace_id, identifier, False)


@router.get(
    "/{identifier}/notes",
    response_model=list[ContactNote],
    **op("listContactNotes", "List the notes on a contact", "contacts notes list"),
)
async def list_contact_notes(session: SessionDep, who: Reader, identifier: Identifier) -> object:
    return await service.list_notes(session, who.workspace_id, identifier)


@router.post(
    "/{identifier}/notes",
    status_code=201,
    response_model=ContactNote,
    **op("createContactNote", "Add a note to a contact", "contacts note add"),
)
async def create_contact_note(
    session: SessionDep, who: Editor, identifier: Identifier, body: ContactNoteCreate
) -> object:
    return await service.create_note(session, who.workspace_id, identifier, body, who.member_id)


@router.delete(
    "/{identifier}/notes/{noteId}",
    status_code=204,
    response_class=Response,
    **op("deleteContactNote", "Delete a note from a contact", "contacts note delete"),
)
async def delete_contact_note(
    session: SessionDep,
    who: Editor,
    identifier: Identifier,
    noteId: Annotated[str, Path(description="Note id", max_length=40)],
) -> None:
    await service.delete_note(session, who.workspace_id, identifier, noteId)
