"""Webhooks: /api/v1/webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chatbotx.kit.db import SessionDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.lists.paging import OptionalPageDep
from chatbotx.webhooks import service
from chatbotx.webhooks.inbound import inbound_router  # noqa: F401  (channel webhooks, mounted by app.py)
from chatbotx.webhooks.schemas import Webhook

router = APIRouter(prefix="/api/v1/webhooks", tags=["Webhooks"])
Reader = Annotated[Principal, Depends(require("webhooks.list"))]


@router.get("", response_model=list[Webhook], **op("listWebhooks", "List webhooks", "webhooks list"))
async def list_webhooks(
    session: SessionDep,
    who: Reader,
    paging: OptionalPageDep,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false)")] = None,
) -> object:
    return await service.list_webhooks(session, who.workspace_id, paging, active=active)
