"""Integrations: /api/v1/integrations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chatbotx.integrations import service
from chatbotx.integrations.schemas import Integration
from chatbotx.kit.db import SessionDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.lists.paging import OptionalPageDep

router = APIRouter(prefix="/api/v1/integrations", tags=["Integrations"])
Reader = Annotated[Principal, Depends(require("integrations.list"))]


@router.get(
    "", response_model=list[Integration], **op("listIntegrations", "List integrations", "integrations list")
)
async def list_integrations(
    session: SessionDep,
    who: Reader,
    paging: OptionalPageDep,
    kind: Annotated[str | None, Query(max_length=64, description="Only integrations of this service")] = None,
    status: Annotated[str | None, Query(max_length=16, description="Only in this status")] = None,
) -> object:
    return await service.list_integrations(session, who.workspace_id, paging, kind=kind, status=status)
