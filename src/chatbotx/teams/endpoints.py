"""Teams: /api/v1/teams."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES, ErrorBody
from chatbotx.kit.ids import parse_id
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.teams import service
from chatbotx.teams.schemas import Team, TeamCreate, TeamMembers, TeamUpdate

router = APIRouter(prefix="/api/v1/teams", tags=["Teams"])
BODY_ERRORS = {**ERROR_RESPONSES, 400: {"model": ErrorBody, "description": "Malformed JSON body"}}
WRITE_ERRORS = {**BODY_ERRORS, 409: {"model": ErrorBody, "description": "The name is taken (DUPLICATE_NAME)"}}
Reader = Annotated[Principal, Depends(require("teams.list"))]
Editor = Annotated[Principal, Depends(require("teams.edit"))]
TeamId = Annotated[str, Path(description="Team id", max_length=40)]


@router.get("", response_model=list[Team], **op("listTeams", "List teams", "teams list"))
async def list_teams(
    session: SessionDep,
    who: Reader,
    keyword: Annotated[str | None, Query(max_length=200, description="Filter by name (contains)")] = None,
) -> object:
    return await service.list_teams(session, who.workspace_id, keyword)


@router.post(
    "",
    status_code=201,
    response_model=Team,
    **op("createTeam", "Create a team", "teams create", responses=WRITE_ERRORS),
)
async def create_team(session: SessionDep, who: Editor, body: TeamCreate) -> object:
    return await service.create(session, who.workspace_id, body)


@router.get("/{id}", response_model=Team, **op("getTeam", "Get team by id", "teams get"))
async def get_team(session: SessionDep, who: Reader, id: TeamId) -> object:
    return await service.get_out(session, who.workspace_id, parse_id(id))


@router.put(
    "/{id}", response_model=Team, **op("updateTeam", "Update team", "teams update", responses=WRITE_ERRORS)
)
async def update_team(session: SessionDep, who: Editor, id: TeamId, body: TeamUpdate) -> object:
    return await service.update_team(session, who.workspace_id, parse_id(id), body)


@router.delete(
    "/{id}", status_code=204, response_class=Response, **op("deleteTeam", "Delete team", "teams delete")
)
async def delete_team(session: SessionDep, who: Editor, id: TeamId) -> None:
    await service.delete(session, who.workspace_id, parse_id(id))


@router.post(
    "/{id}/members",
    response_model=Team,
    **op("addTeamMembers", "Add members to the team", "teams member add", responses=BODY_ERRORS),
)
async def add_team_members(session: SessionDep, who: Editor, id: TeamId, body: TeamMembers) -> object:
    return await service.add_members(session, who.workspace_id, parse_id(id), body.member_ids)


@router.delete(
    "/{id}/members",
    response_model=Team,
    **op("removeTeamMembers", "Remove members from the team", "teams member delete", responses=BODY_ERRORS),
)
async def remove_team_members(session: SessionDep, who: Editor, id: TeamId, body: TeamMembers) -> object:
    return await service.remove_members(session, who.workspace_id, parse_id(id), body.member_ids)
