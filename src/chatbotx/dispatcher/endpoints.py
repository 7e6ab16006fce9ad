"""GET /media/{fileId}: a stored file for the provider fetching an attachment (signed URL, no token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from sqlalchemy import select

from chatbotx.dispatcher import media
from chatbotx.files.service import disk_path
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import NotFound
from chatbotx.kit.ids import parse_id
from chatbotx.models import StoredFile

media_router = APIRouter(include_in_schema=False)


@media_router.get("/media/{fileId}")
async def media_file(
    session: SessionDep,
    fileId: str,
    exp: Annotated[int, Query(ge=0, le=2**40)] = 0,
    sig: Annotated[str, Query(max_length=128)] = "",
) -> FileResponse:
    file_id = parse_id(fileId)
    # One answer for a bad signature, an expired link and a missing file: the link reveals nothing.
    if file_id is None or not media.verify(file_id, exp, sig):
        raise NotFound("File not found.", resource="file")
    stored = await session.scalar(select(StoredFile).where(StoredFile.id == file_id))
    if stored is None or not disk_path(stored).is_file():
        raise NotFound("File not found.", resource="file")
    return FileResponse(disk_path(stored), media_type=stored.content_type, filename=stored.filename)
