"""Files: /api/v1/files (upload, metadata, download)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, UploadFile
from fastapi.responses import FileResponse

from chatbotx.files import service
from chatbotx.files.schemas import StoredFile
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES, ErrorBody
from chatbotx.kit.ids import parse_id
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.settings import get_settings

router = APIRouter(prefix="/api/v1/files", tags=["Files"])
Reader = Annotated[Principal, Depends(require("files.list"))]
Editor = Annotated[Principal, Depends(require("files.edit"))]
FileId = Annotated[str, Path(description="File id", max_length=40)]

UPLOAD_RESPONSES = {**ERROR_RESPONSES, 413: {"model": ErrorBody, "description": "The file is too large"}}
DOWNLOAD_RESPONSES = {
    **ERROR_RESPONSES,
    200: {
        "description": "The file's bytes, with its content type",
        # The stored content type (text/csv, image/png, ...): any media type.
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
}


@router.post(
    "",
    status_code=201,
    response_model=StoredFile,
    **op(
        "uploadFile",
        "Upload a file",
        "files upload",
        description="Upload a file as multipart/form-data (field `file`); use its id in imports. "
        "The size limit is the server's max upload size (413 PAYLOAD_TOO_LARGE above it).",
        responses=UPLOAD_RESPONSES,
    ),
)
async def upload_file(
    session: SessionDep,
    who: Editor,
    file: Annotated[
        UploadFile, File(description="The file to upload", json_schema_extra={"format": "binary"})
    ],
) -> object:
    # Starlette spools the part to a temporary file (at most 1 MiB in memory); we copy it on in chunks.
    return await service.store(
        session,
        who.workspace_id,
        file.file,
        file.filename,
        file.content_type,
        get_settings().max_upload_bytes,
    )


@router.get("/{id}", response_model=StoredFile, **op("getFile", "Get file metadata", "files get"))
async def get_file(session: SessionDep, who: Reader, id: FileId) -> object:
    return await service.get(session, who.workspace_id, parse_id(id))


@router.get(
    "/{id}/content",
    response_class=FileResponse,
    **op("downloadFile", "Download a file's content", "files download", responses=DOWNLOAD_RESPONSES),
)
async def download_file(session: SessionDep, who: Reader, id: FileId) -> FileResponse:
    stored, path = await service.content_path(session, who.workspace_id, parse_id(id))
    return FileResponse(path, media_type=stored.content_type, filename=stored.filename)
