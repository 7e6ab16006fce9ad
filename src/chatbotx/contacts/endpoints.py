"""Contacts: /api/v1/contacts: list, CRUD, upsert, find by custom field, block, notes."""

from __future__ import annotations

import typing
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.routing import APIRoute

from chatbotx.contacts import plain_list, service
from chatbotx.contacts.filters import CHANNELS, parse_contact_filter
from chatbotx.contacts.schemas import (
    Contact,
    ContactCreate,
    ContactNote,
    ContactNoteCreate,
    ContactUpdate,
    ContactUpsert,
)
from chatbotx.kit.db import SessionDep, get_database
from chatbotx.kit.errors import invalid_field
from chatbotx.kit.ids import parse_id
from chatbotx.kit.pagination import MAX_PAGE, SORT_DESCRIPTION, Page, PageDep, PageParams
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require

router = APIRouter(prefix="/api/v1/contacts", tags=["Contacts"])
LIST_SCOPE = "contacts.list"
Reader = Annotated[Principal, Depends(require(LIST_SCOPE))]
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


# Any of these needs FastAPI's full parsing and validation; a list without them is the plain (hot) case.
_FILTER_PARAMS = frozenset(
    {"sort", "keyword", "contactFilter", "channels", "channels[]", "inboxIds", "inboxIds[]"}
)


def _count_param(text: str) -> int | None:
    """A page/perPage value the declared parameter would surely accept, else None (let FastAPI judge)."""
    if text.isascii() and text.isdigit() and len(text) <= 16:
        value = int(text)
        if 1 <= value <= MAX_PAGE:
            return value
    return None


def plain_page(request: Request) -> PageParams | None:
    """The paging of a listContacts request with no filter or sort and well-formed page/perPage; else None."""
    params = request.query_params
    if not _FILTER_PARAMS.isdisjoint(params.keys()):
        return None
    values: dict[str, int] = {}
    for name in ("page", "perPage"):
        raw = params.get(name)
        if raw is not None:
            value = _count_param(raw)
            if value is None:
                return None
            values[name] = value
    return PageParams(**values)


class ListContactsRoute(APIRoute):
    """listContacts with a fast path for the plain paged list (the CLI's and UI's usual call).

    FastAPI's per-request dependency solving and parameter validation cost more than the whole database
    work of a page, so a request whose only parameters are well-formed page/perPage, from a principal that
    has the scope, is answered directly: the same principal check as `require`, the same SQL, the same bytes.
    Anything else (a filter, a sort, a bad value, no principal, a missing scope) goes through the declared
    endpoint, so validation errors, 401/403 and the OpenAPI document are unchanged.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        declared = super().get_route_handler()

        async def handler(request: Request) -> Response:
            principal = request.scope.get("state", {}).get("principal")
            page = plain_page(request) if principal is not None and principal.allows(LIST_SCOPE) else None
            if page is None:
                return await declared(request)
            data, page_count = await plain_list.list_page(get_database().engine, principal.workspace_id, page)
            return _page_response(data, page_count)

        return handler


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
    # Serialized by contacts.plain_list in the response model's shape (tests check it against Page[Contact]
    # and against serialize.contacts_out's bytes).
    return _page_response(data, page_count)


def _page_response(data: str | bytes, page_count: int) -> Response:
    if isinstance(data, str):
        data = data.encode()
    return Response(b'{"data":%b,"pageCount":%d}' % (data, page_count), media_type="application/json")


router.add_api_route(
    "",
    list_contacts,
    methods=["GET"],
    response_model=Page[Contact],
    route_class_override=ListContactsRoute,
    **op("listContacts", "List contacts", "contacts list"),
)


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
