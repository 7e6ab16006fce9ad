"""Flow logic; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.flows.schemas import FlowCreate, FlowUpdate
from chatbotx.kit.errors import Conflict, NotFound
from chatbotx.lists.paging import OptionalPageParams
from chatbotx.lists.params import contains_any
from chatbotx.models import Flow


async def list_flows(
    session: AsyncSession,
    workspace_id: int,
    paging: OptionalPageParams,
    *,
    keyword: str | None = None,
    folder_id: int | None = None,
    status: str | None = None,
) -> Sequence[Flow]:
    stmt = select(Flow).where(Flow.workspace_id == workspace_id)
    if keyword:
        stmt = stmt.where(contains_any(keyword, Flow.name, Flow.description))
    if folder_id is not None:
        stmt = stmt.where(Flow.folder_id == folder_id)
    if status:
        stmt = stmt.where(Flow.status == status)
    stmt = paging.apply(stmt.order_by(Flow.name, Flow.id))
    return (await session.execute(stmt)).scalars().all()


async def get(session: AsyncSession, workspace_id: int, flow_id: int | None) -> Flow:
    flow = None
    if flow_id is not None:
        flow = await session.scalar(select(Flow).where(Flow.id == flow_id, Flow.workspace_id == workspace_id))
    if flow is None:
        raise NotFound("Flow not found.", resource="flow")
    return flow


async def _ensure_name_free(
    session: AsyncSession, workspace_id: int, name: str, except_id: int | None = None
) -> None:
    # Names are unique so that scripts can find a flow by name (`select(.name=="Welcome")`).
    existing = await session.scalar(
        select(Flow.id).where(Flow.workspace_id == workspace_id, Flow.name == name).limit(1)
    )
    if existing is not None and existing != except_id:
        raise Conflict(f"A flow named {name!r} already exists.", code="DUPLICATE_NAME", field="name")


async def create(session: AsyncSession, workspace_id: int, data: FlowCreate) -> Flow:
    await _ensure_name_free(session, workspace_id, data.name)
    flow = Flow(
        workspace_id=workspace_id,
        name=data.name,
        description=data.description,
        folder_id=data.folder_id,
        status=data.status,
        version=1,
        definition=data.definition,
    )
    session.add(flow)
    await session.flush()
    return flow


async def update(session: AsyncSession, workspace_id: int, flow_id: int | None, data: FlowUpdate) -> Flow:
    flow = await get(session, workspace_id, flow_id)
    fields = data.model_fields_set
    if data.name is not None and data.name != flow.name:
        await _ensure_name_free(session, workspace_id, data.name, flow.id)
        flow.name = data.name
    if "description" in fields:
        flow.description = data.description
    if "folder_id" in fields:
        flow.folder_id = data.folder_id
    if data.status is not None:
        flow.status = data.status
    if data.definition is not None and data.definition != flow.definition:
        flow.definition = data.definition
        flow.version += 1
    await session.flush()
    return flow


async def delete(session: AsyncSession, workspace_id: int, flow_id: int | None) -> None:
    flow = await get(session, workspace_id, flow_id)
    await session.delete(flow)
    await session.flush()
