"""Workspace members: /api/v1/members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES, ErrorBody
from chatbotx.kit.ids import parse_id
from chatbotx.kit.pagination import SORT_DESCRIPTION, Page, PageDep
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.members import service
from chatbotx.members.schemas import Member, MemberCreate, MemberUpdate

router = APIRouter(prefix="/api/v1/members", tags=["Members"])
RULE_ERRORS = {
    **ERROR_RESPONSES,
    400: {"model": ErrorBody, "description": "Malformed JSON body, or the last owner would go (LAST_OWNER)"},
}
ADD_ERRORS = {**RULE_ERRORS, 409: {"model": ErrorBody, "description": "Already a member (ALREADY_MEMBER)"}}
Reader = Annotated[Principal, Depends(require("members.list"))]
Editor = Annotated[Principal, Depends(require("members.edit"))]
MemberId = Annotated[str, Path(description="Member id", max_length=40)]


@router.get("", response_model=Page[Member], **op("listMembers", "List workspace members", "members list"))
async def list_members(
    session: SessionDep,
    who: Reader,
    page: PageDep,
    sort: Annotated[
        str | None,
        Query(max_length=1000, description=SORT_DESCRIPTION + "; createdAt, updatedAt, role, name, email"),
    ] = None,
    keyword: Annotated[str | None, Query(max_length=200, description="Matches name or email")] = None,
) -> object:
    data, page_count = await service.list_members(session, who.workspace_id, page, sort=sort, keyword=keyword)
    return {"data": data, "pageCount": page_count}


@router.post(
    "",
    status_code=201,
    response_model=Member,
    **op("addMember", "Add a workspace member", "members add", responses=ADD_ERRORS),
)
async def add_member(session: SessionDep, who: Editor, body: MemberCreate) -> object:
    return await service.add(session, who.workspace_id, body.email, name=body.name, role=body.role)


@router.get(
    "/{memberId}", response_model=Member, **op("getMember", "Get workspace member by id", "members get")
)
async def get_member(session: SessionDep, who: Reader, memberId: MemberId) -> object:
    return await service.get_out(session, who.workspace_id, parse_id(memberId))


@router.put(
    "/{memberId}",
    response_model=Member,
    **op(
        "updateMember",
        "Change a member's role",
        "members update",
        description="Change a member's role. The last owner cannot be demoted (400 LAST_OWNER).",
        responses=RULE_ERRORS,
    ),
)
async def update_member(session: SessionDep, who: Editor, memberId: MemberId, body: MemberUpdate) -> object:
    return await service.set_role(session, who.workspace_id, parse_id(memberId), body.role)


@router.delete(
    "/{memberId}",
    status_code=204,
    response_class=Response,
    **op(
        "removeMember",
        "Remove a workspace member",
        "members delete",
        description="Remove a member: their team places and conversation assignments are dropped and "
        "their API tokens revoked. The last owner cannot be removed (400 LAST_OWNER).",
        responses=RULE_ERRORS,
    ),
)
async def remove_member(session: SessionDep, who: Editor, memberId: MemberId) -> None:
    await service.remove(session, who.workspace_id, parse_id(memberId))
