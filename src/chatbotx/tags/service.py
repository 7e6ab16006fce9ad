"""Tag logic; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.errors import Conflict, NotFound
from chatbotx.kit.lookup import by_id_or_name
from chatbotx.models import ContactTag, Tag
from chatbotx.tags.schemas import TagCreate, TagUpdate


async def list_tags(session: AsyncSession, workspace_id: int, keyword: str | None = None) -> Sequence[Tag]:
    stmt = select(Tag).where(Tag.workspace_id == workspace_id, Tag.deleted_at.is_(None))
    if keyword:
        stmt = stmt.where(func.lower(Tag.name).contains(keyword.lower(), autoescape=True))
    return (await session.execute(stmt.order_by(Tag.name))).scalars().all()


async def get(session: AsyncSession, workspace_id: int, tag_id: int | None) -> Tag:
    tag = None
    if tag_id is not None:
        tag = await session.scalar(
            select(Tag).where(Tag.id == tag_id, Tag.workspace_id == workspace_id, Tag.deleted_at.is_(None))
        )
    if tag is None:
        raise NotFound("Tag not found.", resource="tag")
    return tag


async def get_by_id_or_name(session: AsyncSession, workspace_id: int, id_or_name: str) -> Tag:
    stmt = select(Tag).where(Tag.workspace_id == workspace_id, Tag.deleted_at.is_(None))
    not_found = NotFound(f"Tag {id_or_name!r} not found.", resource="tag")
    return await by_id_or_name(session, stmt, Tag.id, Tag.name, id_or_name, not_found)


async def _ensure_name_free(
    session: AsyncSession, workspace_id: int, name: str, except_id: int | None = None
) -> None:
    stmt = select(Tag.id).where(Tag.workspace_id == workspace_id, Tag.name == name)
    existing = await session.scalar(stmt)
    if existing is not None and existing != except_id:
        raise Conflict(f"A tag named {name!r} already exists.", code="DUPLICATE_NAME", field="name")


async def create(session: AsyncSession, workspace_id: int, data: TagCreate) -> Tag:
    await _ensure_name_free(session, workspace_id, data.name)
    tag = Tag(workspace_id=workspace_id, name=data.name, folder_id=data.folder_id)
    session.add(tag)
    await session.flush()
    return tag


async def update(session: AsyncSession, workspace_id: int, tag_id: int | None, data: TagUpdate) -> Tag:
    tag = await get(session, workspace_id, tag_id)
    if data.name is not None and data.name != tag.name:
        await _ensure_name_free(session, workspace_id, data.name, tag.id)
        tag.name = data.name
    if "folder_id" in data.model_fields_set:
        tag.folder_id = data.folder_id
    await session.flush()
    return tag


async def delete(session: AsyncSession, workspace_id: int, tag_id: int | None) -> None:
    tag = await get(session, workspace_id, tag_id)
    await session.execute(sql_delete(ContactTag).where(ContactTag.tag_id == tag.id))
    await session.delete(tag)
    await session.flush()
