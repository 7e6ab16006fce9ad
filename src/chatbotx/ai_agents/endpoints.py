"""AI agents: /api/v1/ai-agents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chatbotx.ai_agents import service
from chatbotx.ai_agents.schemas import AIAgent
from chatbotx.kit.db import SessionDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.lists.paging import OptionalPageDep

router = APIRouter(prefix="/api/v1/ai-agents", tags=["AI Agents"])
Reader = Annotated[Principal, Depends(require("ai_agents.list"))]


@router.get("", response_model=list[AIAgent], **op("listAIAgents", "List AI agents", "ai-agents list"))
async def list_ai_agents(
    session: SessionDep,
    who: Reader,
    paging: OptionalPageDep,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false)")] = None,
) -> object:
    return await service.list_ai_agents(session, who.workspace_id, paging, active=active)
