"""Template messages: /api/v1/template-messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chatbotx.kit.db import SessionDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.lists.paging import OptionalPageDep
from chatbotx.lists.params import query_id
from chatbotx.template_messages import service
from chatbotx.template_messages.schemas import TemplateMessage, TemplateStatus

router = APIRouter(prefix="/api/v1/template-messages", tags=["Template Messages"])
Reader = Annotated[Principal, Depends(require("template_messages.list"))]


@router.get(
    "",
    response_model=list[TemplateMessage],
    **op("listTemplateMessages", "List template messages", "template-messages list"),
)
async def list_template_messages(
    session: SessionDep,
    who: Reader,
    paging: OptionalPageDep,
    inboxId: Annotated[str | None, Query(max_length=40, description="Only templates of this inbox")] = None,
    integrationWhatsappId: Annotated[
        str | None, Query(max_length=100, description="Only templates of this WhatsApp account")
    ] = None,
    status: Annotated[TemplateStatus | None, Query(description="APPROVED, PENDING or REJECTED")] = None,
) -> object:
    return await service.list_template_messages(
        session,
        who.workspace_id,
        paging,
        inbox_id=query_id(inboxId, "inboxId"),
        integration_whatsapp_id=integrationWhatsappId,
        status=status,
    )
