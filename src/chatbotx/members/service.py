"""Members of a workspace and their roles; a workspace always keeps at least one owner."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.db import after_commit, utcnow
from chatbotx.kit.errors import BusinessError, Conflict, NotFound
from chatbotx.kit.normalize import normalize_email
from chatbotx.kit.pagination import PageParams, paginate, parse_sort
from chatbotx.kit.security import token_cache
from chatbotx.members import schemas
from chatbotx.models import ApiToken, Conversation, Member, TeamMember, User

SORTABLE = {
    "createdAt": Member.created_at,
    "updatedAt": Member.updated_at,
    "role": Member.role,
    "name": User.name,
    "email": User.email,
}


def member_out(member: Member, user: User) -> schemas.Member:
    return schemas.Member(
        id=member.id,
        created_at=member.created_at,
        updated_at=member.updated_at,
        role=member.role,
        workspace_id=member.workspace_id,
        user_id=member.user_id,
        user=schemas.User.model_validate(user),
    )


async def members_out(session: AsyncSession, members: Sequence[Member]) -> list[schemas.Member]:
    """Members with their users, loaded in one query."""
    user_ids = {m.user_id for m in members}
    users = {u.id: u for u in (await session.execute(select(User).where(User.id.in_(user_ids)))).scalars()}
    return [member_out(m, users[m.user_id]) for m in members]


async def list_members(
    session: AsyncSession,
    workspace_id: int,
    params: PageParams,
    *,
    sort: str | None = None,
    keyword: str | None = None,
) -> tuple[list[schemas.Member], int]:
    stmt = select(Member).join(User, User.id == Member.user_id).where(Member.workspace_id == workspace_id)
    if keyword:
        needle = keyword.lower()
        stmt = stmt.where(
            or_(
                func.lower(User.name).contains(needle, autoescape=True),
                func.lower(User.email).contains(needle, autoescape=True),
            )
        )
    order = parse_sort(sort, SORTABLE, [Member.created_at.asc()])
    members, page_count = await paginate(session, stmt.order_by(*order, Member.id), params)
    return await members_out(session, members), page_count


async def get(session: AsyncSession, workspace_id: int, member_id: int | None) -> Member:
    member = None
    if member_id is not None:
        member = await session.scalar(
            select(Member).where(Member.id == member_id, Member.workspace_id == workspace_id)
        )
    if member is None:
        raise NotFound("Member not found.", resource="member")
    return member


async def get_out(session: AsyncSession, workspace_id: int, member_id: int | None) -> schemas.Member:
    return (await members_out(session, [await get(session, workspace_id, member_id)]))[0]


async def _user_for(session: AsyncSession, email: str, name: str | None) -> User:
    """The user with `email` (case-insensitive), created if there is none."""
    user = await session.scalar(select(User).where(func.lower(User.email) == email.lower()).limit(1))
    if user is None:
        user = User(email=email, name=name or email.split("@")[0])
        session.add(user)
        await session.flush()
    return user


async def add(
    session: AsyncSession, workspace_id: int, email: str, *, name: str | None = None, role: str = "agent"
) -> schemas.Member:
    """Add the person with `email` (a new user if needed); 409 if they already are a member."""
    user = await _user_for(session, normalize_email(email, field="email"), name)
    existing = await session.scalar(
        select(Member.id).where(Member.workspace_id == workspace_id, Member.user_id == user.id)
    )
    already = Conflict(f"{user.email} is already a member of this workspace.", code="ALREADY_MEMBER")
    if existing is not None:
        raise already
    member = Member(workspace_id=workspace_id, user_id=user.id, role=role)
    session.add(member)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent add of the same person
        raise already from None
    return member_out(member, user)


async def _ensure_another_owner(session: AsyncSession, member: Member) -> None:
    """400 LAST_OWNER unless the workspace has an owner besides `member`."""
    # Locking the owner rows (PostgreSQL) serializes two concurrent demotions of the last two owners.
    owners = (
        await session.execute(
            select(Member.id)
            .where(Member.workspace_id == member.workspace_id, Member.role == "owner")
            .with_for_update()
        )
    ).scalars()
    if not any(owner_id != member.id for owner_id in owners):
        raise BusinessError(
            "A workspace needs at least one owner: make another member owner first.", code="LAST_OWNER"
        )


async def set_role(
    session: AsyncSession, workspace_id: int, member_id: int | None, role: str
) -> schemas.Member:
    member = await get(session, workspace_id, member_id)
    if member.role == "owner" and role != "owner":
        await _ensure_another_owner(session, member)
    member.role = role
    await session.flush()
    return (await members_out(session, [member]))[0]


async def remove(session: AsyncSession, workspace_id: int, member_id: int | None) -> None:
    """Remove the member: their team places and conversation assignments go, their API tokens are revoked."""
    member = await get(session, workspace_id, member_id)
    if member.role == "owner":
        await _ensure_another_owner(session, member)
    await session.execute(sql_delete(TeamMember).where(TeamMember.member_id == member.id))
    await session.execute(
        update(Conversation)
        .where(Conversation.workspace_id == workspace_id, Conversation.assigned_user_id == member.user_id)
        .values(assigned_user_id=None)
    )
    # A removed person's tokens must stop working, not merely lose their member link.
    await session.execute(
        update(ApiToken)
        .where(ApiToken.member_id == member.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await session.delete(member)
    await session.flush()

    async def _forget_cached_tokens() -> None:
        token_cache.clear()

    after_commit(session, _forget_cached_tokens)
