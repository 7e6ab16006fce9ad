"""Creating workspaces with their owner, and issuing API tokens."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.errors import InvalidData, NotFound
from chatbotx.kit.security import ALL_SCOPES, SCOPES, hash_token, new_token
from chatbotx.models import ApiToken, Member, User, Workspace


async def get(session: AsyncSession, workspace_id: int) -> Workspace:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("Workspace not found.", resource="workspace")
    return workspace


async def list_workspaces(session: AsyncSession) -> Sequence[Workspace]:
    return (await session.execute(select(Workspace).order_by(Workspace.id))).scalars().all()


async def get_or_create_user(session: AsyncSession, email: str, name: str = "") -> User:
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name or email.split("@")[0])
        session.add(user)
        await session.flush()
    return user


async def create_token(
    session: AsyncSession,
    workspace_id: int,
    scopes: Iterable[str] = (ALL_SCOPES,),
    *,
    name: str = "",
    member_id: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token; the plain text is returned once and only its hash is stored."""
    scope_list = sorted(set(scopes))
    unknown = [s for s in scope_list if s != ALL_SCOPES and s not in SCOPES]
    if unknown or not scope_list:
        raise InvalidData(f"Unknown scopes: {', '.join(unknown) or '(none given)'}", scopes=list(SCOPES))
    await get(session, workspace_id)
    plain = new_token()
    token = ApiToken(
        workspace_id=workspace_id,
        member_id=member_id,
        name=name,
        token_hash=hash_token(plain),
        prefix=plain[:8],
        scopes=scope_list,
    )
    session.add(token)
    await session.flush()
    return token, plain


async def create_workspace(
    session: AsyncSession, name: str, owner_email: str = "owner@localhost", owner_name: str = "Owner"
) -> tuple[Workspace, Member, str]:
    """A workspace, its owner member and a token with every scope."""
    if not name.strip():
        raise InvalidData("Workspace name must not be empty.")
    workspace = Workspace(name=name.strip())
    session.add(workspace)
    await session.flush()
    user = await get_or_create_user(session, owner_email, owner_name)
    member = Member(workspace_id=workspace.id, user_id=user.id, role="owner")
    session.add(member)
    await session.flush()
    _, plain = await create_token(session, workspace.id, name="owner", member_id=member.id)
    return workspace, member, plain
