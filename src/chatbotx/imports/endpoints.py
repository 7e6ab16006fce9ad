"""Contact imports: POST /api/v1/contacts/import and the jobs under /api/v1/contacts/imports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from chatbotx.imports import service
from chatbotx.imports import tasks as _tasks  # noqa: F401  (registers the job and its restart hook)
from chatbotx.imports.schemas import ContactImport, ContactImportCreate
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES
from chatbotx.kit.ids import parse_id
from chatbotx.kit.pagination import Page, PageDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require

router = APIRouter(prefix="/api/v1/contacts", tags=["Contacts"])
Reader = Annotated[Principal, Depends(require("contacts.list"))]
Editor = Annotated[Principal, Depends(require("contacts.edit"))]

IMPORT_DESCRIPTION = (
    "Import contacts from an uploaded CSV file (POST /api/v1/files). The import runs in the background: "
    "poll GET /api/v1/contacts/imports/{id} until its status is finished or failed. One import per file: "
    "asking again for the same fileId returns the existing job with 200 (a new job is 201) and imports "
    "nothing twice. Contacts are matched by email, then phone number, and updated; the others are created."
)


@router.post(
    "/import",
    status_code=201,
    response_model=ContactImport,
    **op(
        "importContacts",
        "Import contacts from a file",
        "contacts import",
        description=IMPORT_DESCRIPTION,
        responses={
            **ERROR_RESPONSES,
            200: {"model": ContactImport, "description": "The file already has an import: that job"},
        },
    ),
)
async def import_contacts(
    session: SessionDep, who: Editor, body: ContactImportCreate, response: Response
) -> object:
    job, created = await service.create_import(session, who.workspace_id, body)
    if not created:
        response.status_code = 200
    return job


@router.get(
    "/imports",
    response_model=Page[ContactImport],
    **op("listContactImports", "List contact imports", "contacts imports list"),
)
async def list_contact_imports(session: SessionDep, who: Reader, page: PageDep) -> object:
    jobs, page_count = await service.list_imports(session, who.workspace_id, page)
    return {"data": jobs, "pageCount": page_count}


@router.get(
    "/imports/{id}",
    response_model=ContactImport,
    **op("getContactImport", "Get a contact import and its progress", "contacts imports get"),
)
async def get_contact_import(
    session: SessionDep, who: Reader, id: Annotated[str, Path(description="Import id", max_length=40)]
) -> object:
    return await service.get(session, who.workspace_id, parse_id(id))
