"""Teams and their members; every query is scoped to the workspace."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.errors import Conflict, NotFound, invalid_field
from chatbotx.models import Conversation, Member, Team, TeamMember
from chatbotx.teams import schemas


def _duplicate(name: str) -> Conflict:
    return Conflict(f"A team named {name!r} already exists.", code="DUPLICATE_NAME", field="name")


async def teams_out(session: AsyncSession, teams: Sequence[Team]) -> list[schemas.Team]:
    """Teams with their member ids, loaded in one query."""
    members: dict[int, list[int]] = defaultdict(list)
    if teams:
        rows = await session.execute(
            select(TeamMember.team_id, TeamMember.member_id)
            .where(TeamMember.team_id.in_([t.id for t in teams]))
            .order_by(TeamMember.member_id)
        )
        for team_id, member_id in rows:
            members[team_id].append(member_id)
    return [
        schemas.Team(
            id=t.id,
            created_at=t.created_at,
            updated_at=t.updated_at,
            workspace_id=t.workspace_id,
            name=t.name,
            description=t.description,
            member_ids=members[t.id],
        )
        for t in teams
    ]


async def list_teams(
    session: AsyncSession, workspace_id: int, keyword: str | None = None
) -> list[schemas.Team]:
    stmt = select(Team).where(Team.workspace_id == workspace_id)
    if keyword:
        stmt = stmt.where(func.lower(Team.name).contains(keyword.lower(), autoescape=True))
    teams = (await session.execute(stmt.order_by(Team.name))).scalars().all()
    return await teams_out(session, teams)


async def get(session: AsyncSession, workspace_id: int, team_id: int | None) -> Team:
    team = None
    if team_id is not None:
        team = await session.scalar(select(Team).where(Team.id == team_id, Team.workspace_id == workspace_id))
    if team is None:
        raise NotFound("Team not found.", resource="team")
    return team


async def get_out(session: AsyncSession, workspace_id: int, team_id: int | None) -> schemas.Team:
    return (await teams_out(session, [await get(session, workspace_id, team_id)]))[0]


async def _ensure_name_free(
    session: AsyncSession, workspace_id: int, name: str, except_id: int | None = None
) -> None:
    existing = await session.scalar(
        select(Team.id).where(Team.workspace_id == workspace_id, Team.name == name)
    )
    if existing is not None and existing != except_id:
        raise _duplicate(name)


async def _check_members(session: AsyncSession, workspace_id: int, member_ids: Iterable[int]) -> set[int]:
    """`member_ids` as a set, or a 422 naming those that are not members of the workspace."""
    wanted = set(member_ids)
    if not wanted:
        return wanted
    found = set(
        (
            await session.execute(
                select(Member.id).where(Member.workspace_id == workspace_id, Member.id.in_(wanted))
            )
        ).scalars()
    )
    unknown = sorted(wanted - found)
    if unknown:
        raise invalid_field("memberIds", f"not members of this workspace: {', '.join(map(str, unknown))}")
    return wanted


async def create(session: AsyncSession, workspace_id: int, data: schemas.TeamCreate) -> schemas.Team:
    await _ensure_name_free(session, workspace_id, data.name)
    member_ids = await _check_members(session, workspace_id, data.member_ids)
    team = Team(workspace_id=workspace_id, name=data.name, description=data.description)
    session.add(team)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent create of the same name
        raise _duplicate(data.name) from None
    session.add_all(TeamMember(team_id=team.id, member_id=m) for m in sorted(member_ids))
    await session.flush()
    return await get_out(session, workspace_id, team.id)


async def update_team(
    session: AsyncSession, workspace_id: int, team_id: int | None, data: schemas.TeamUpdate
) -> schemas.Team:
    team = await get(session, workspace_id, team_id)
    if data.name is not None and data.name != team.name:
        await _ensure_name_free(session, workspace_id, data.name, team.id)
        team.name = data.name
    if "description" in data.model_fields_set:
        team.description = data.description
    await session.flush()
    return await get_out(session, workspace_id, team.id)


async def delete(session: AsyncSession, workspace_id: int, team_id: int | None) -> None:
    """Delete the team; conversations assigned to it become unassigned (to a team)."""
    team = await get(session, workspace_id, team_id)
    await session.execute(sql_delete(TeamMember).where(TeamMember.team_id == team.id))
    await session.execute(
        update(Conversation).where(Conversation.assigned_team_id == team.id).values(assigned_team_id=None)
    )
    await session.delete(team)
    await session.flush()


async def add_members(
    session: AsyncSession, workspace_id: int, team_id: int | None, member_ids: Iterable[int]
) -> schemas.Team:
    """Add members (those already in the team are left as they are)."""
    team = await get(session, workspace_id, team_id)
    wanted = await _check_members(session, workspace_id, member_ids)
    present = set(
        (
            await session.execute(
                select(TeamMember.member_id).where(
                    TeamMember.team_id == team.id, TeamMember.member_id.in_(wanted)
                )
            )
        ).scalars()
    )
    session.add_all(TeamMember(team_id=team.id, member_id=m) for m in sorted(wanted - present))
    await session.flush()
    return await get_out(session, workspace_id, team.id)


async def remove_members(
    session: AsyncSession, workspace_id: int, team_id: int | None, member_ids: Iterable[int]
) -> schemas.Team:
    """Remove members from the team (ids not in it are ignored)."""
    team = await get(session, workspace_id, team_id)
    await session.execute(
        sql_delete(TeamMember).where(TeamMember.team_id == team.id, TeamMember.member_id.in_(set(member_ids)))
    )
    await session.flush()
    return await get_out(session, workspace_id, team.id)
