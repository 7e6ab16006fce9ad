"""Flows: /api/v1/flows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from chatbotx.flows import service
from chatbotx.flows.schemas import Flow, FlowCreate, FlowDetail, FlowStatus, FlowUpdate
from chatbotx.kit.db import SessionDep
from chatbotx.kit.ids import parse_id
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.lists.paging import OptionalPageDep
from chatbotx.lists.params import query_id

router = APIRouter(prefix="/api/v1/flows", tags=["Flows"])
Reader = Annotated[Principal, Depends(require("flows.list"))]
Editor = Annotated[Principal, Depends(require("flows.edit"))]
FlowId = Annotated[str, Path(description="Flow id", max_length=40)]


@router.get("", response_model=list[Flow], **op("listFlows", "Get all flows", "flows list"))
async def list_flows(
    session: SessionDep,
    who: Reader,
    paging: OptionalPageDep,
    keyword: Annotated[
        str | None, Query(max_length=200, description="Name or description contains (any case)")
    ] = None,
    folderId: Annotated[str | None, Query(max_length=40, description="Only flows in this folder")] = None,
    status: Annotated[FlowStatus | None, Query(description="draft or published")] = None,
) -> object:
    return await service.list_flows(
        session,
        who.workspace_id,
        paging,
        keyword=keyword,
        folder_id=query_id(folderId, "folderId"),
        status=status,
    )


@router.post(
    "", status_code=201, response_model=FlowDetail, **op("createFlow", "Create a flow", "flows create")
)
async def create_flow(session: SessionDep, who: Editor, body: FlowCreate) -> object:
    return await service.create(session, who.workspace_id, body)


@router.get("/{id}", response_model=FlowDetail, **op("getFlow", "Get flow by id", "flows get"))
async def get_flow(session: SessionDep, who: Reader, id: FlowId) -> object:
    return await service.get(session, who.workspace_id, parse_id(id))


@router.put("/{id}", response_model=FlowDetail, **op("updateFlow", "Update flow", "flows update"))
async def update_flow(session: SessionDep, who: Editor, id: FlowId, body: FlowUpdate) -> object:
    return await service.update(session, who.workspace_id, parse_id(id), body)


@router.delete(
    "/{id}", status_code=204, response_class=Response, **op("deleteFlow", "Delete flow", "flows delete")
)
async def delete_flow(session: SessionDep, who: Editor, id: FlowId) -> None:
    await service.delete(session, who.workspace_id, parse_id(id))
