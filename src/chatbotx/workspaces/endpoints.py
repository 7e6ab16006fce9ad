"""The caller's workspace: /api/v1/workspaces."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from chatbotx.kit.db import SessionDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.workspaces import service
from chatbotx.workspaces.schemas import Workspace

router = APIRouter(prefix="/api/v1/workspaces", tags=["Workspace"])


@router.get("", response_model=Workspace, **op("getWorkspace", "Get workspace", "workspaces get"))
async def get_workspace(
    session: SessionDep, who: Annotated[Principal, Depends(require("workspace.list"))]
) -> object:
    return await service.get(session, who.workspace_id)
