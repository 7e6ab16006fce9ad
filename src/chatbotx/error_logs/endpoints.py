"""Error logs: /api/v1/error-logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chatbotx.error_logs import service
from chatbotx.error_logs.schemas import ErrorLog
from chatbotx.kit.db import SessionDep
from chatbotx.kit.pagination import SORT_DESCRIPTION, Page, PageDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require

router = APIRouter(prefix="/api/v1/error-logs", tags=["Error Logs"])
Reader = Annotated[Principal, Depends(require("error_logs.list"))]


@router.get("", response_model=Page[ErrorLog], **op("listErrorLogs", "List error logs", "error-logs list"))
async def list_error_logs(
    session: SessionDep,
    who: Reader,
    paging: PageDep,
    sort: Annotated[
        str | None, Query(max_length=500, description=SORT_DESCRIPTION + "; by createdAt, code or source")
    ] = None,
    keyword: Annotated[
        str | None, Query(max_length=200, description="code, message or source contains (any case)")
    ] = None,
) -> object:
    rows, page_count = await service.list_error_logs(session, who.workspace_id, paging, sort, keyword)
    return {"data": rows, "pageCount": page_count}
