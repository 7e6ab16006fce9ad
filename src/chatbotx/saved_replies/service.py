"""Saved replies; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.errors import Conflict, NotFound
from chatbotx.models import SavedReply
from chatbotx.saved_replies.schemas import SavedReplyCreate, SavedReplyUpdate


def _duplicate(shortcut: str) -> Conflict:
    return Conflict(
        f"A saved reply with shortcut {shortcut!r} already exists.",
        code="DUPLICATE_SHORTCUT",
        field="shortcut",
    )


async def list_replies(
    session: AsyncSession, workspace_id: int, keyword: str | None = None
) -> Sequence[SavedReply]:
    stmt = select(SavedReply).where(SavedReply.workspace_id == workspace_id)
    if keyword:
        needle = keyword.lower()
        stmt = stmt.where(
            or_(
                func.lower(SavedReply.shortcut).contains(needle, autoescape=True),
                func.lower(SavedReply.text).contains(needle, autoescape=True),
            )
        )
    return (await session.execute(stmt.order_by(SavedReply.shortcut))).scalars().all()


async def get(session: AsyncSession, workspace_id: int, reply_id: int | None) -> SavedReply:
    reply = None
    if reply_id is not None:
        reply = await session.scalar(
            select(SavedReply).where(SavedReply.id == reply_id, SavedReply.workspace_id == workspace_id)
        )
    if reply is None:
        raise NotFound("Saved reply not found.", resource="savedReply")
    return reply


async def _ensure_shortcut_free(
    session: AsyncSession, workspace_id: int, shortcut: str, except_id: int | None = None
) -> None:
    existing = await session.scalar(
        select(SavedReply.id).where(SavedReply.workspace_id == workspace_id, SavedReply.shortcut == shortcut)
    )
    if existing is not None and existing != except_id:
        raise _duplicate(shortcut)


async def _flush(session: AsyncSession, shortcut: str) -> None:
    try:
        await session.flush()
    except IntegrityError:  # a concurrent write of the same shortcut
        raise _duplicate(shortcut) from None


async def create(session: AsyncSession, workspace_id: int, data: SavedReplyCreate) -> SavedReply:
    await _ensure_shortcut_free(session, workspace_id, data.shortcut)
    reply = SavedReply(workspace_id=workspace_id, shortcut=data.shortcut, text=data.text)
    session.add(reply)
    await _flush(session, data.shortcut)
    return reply


async def update(
    session: AsyncSession, workspace_id: int, reply_id: int | None, data: SavedReplyUpdate
) -> SavedReply:
    reply = await get(session, workspace_id, reply_id)
    if data.shortcut is not None and data.shortcut != reply.shortcut:
        await _ensure_shortcut_free(session, workspace_id, data.shortcut, reply.id)
        reply.shortcut = data.shortcut
    if data.text is not None:
        reply.text = data.text
    await _flush(session, reply.shortcut)
    return reply


async def delete(session: AsyncSession, workspace_id: int, reply_id: int | None) -> None:
    reply = await get(session, workspace_id, reply_id)
    await session.delete(reply)
    await session.flush()
