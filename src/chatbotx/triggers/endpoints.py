"""Triggers: /api/v1/triggers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chatbotx.kit.db import SessionDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.lists.paging import OptionalPageDep
from chatbotx.triggers import service
from chatbotx.triggers.schemas import Trigger

router = APIRouter(prefix="/api/v1/triggers", tags=["Triggers"])
Reader = Annotated[Principal, Depends(require("triggers.list"))]


@router.get("", response_model=list[Trigger], **op("listTriggers", "List triggers", "triggers list"))
async def list_triggers(
    session: SessionDep,
    who: Reader,
    paging: OptionalPageDep,
    event: Annotated[str | None, Query(max_length=64, description="Only triggers on this event")] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false)")] = None,
) -> object:
    return await service.list_triggers(session, who.workspace_id, paging, event=event, active=active)
