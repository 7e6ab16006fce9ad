"""Bot field definitions and values, scoped to the workspace; multi-updates are all-or-nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.bot_fields.schemas import BotFieldBulkItem, BotFieldCreate, BotFieldSetItem
from chatbotx.kit.errors import Conflict, NotFound, invalid_field
from chatbotx.kit.fieldtypes import coerce_value
from chatbotx.kit.ids import parse_id
from chatbotx.models import BotField


@dataclasses.dataclass(frozen=True, slots=True)
class FieldRef:
    """How a caller names a bot field: by id, by name, or by either (an id first, else a name)."""

    id: int | None = None
    name: str | None = None

    @classmethod
    def id_or_name(cls, text: str) -> FieldRef:
        return cls(id=parse_id(text), name=text)

    def label(self) -> str:
        return self.name if self.name is not None else str(self.id)


def ref_of(item: BotFieldSetItem | BotFieldBulkItem) -> FieldRef:
    if isinstance(item, BotFieldBulkItem) and item.id_or_name is not None:
        return FieldRef.id_or_name(item.id_or_name)
    return FieldRef(id=item.id, name=item.name)


def _duplicate(name: str) -> Conflict:
    return Conflict(f"A bot field named {name!r} already exists.", code="DUPLICATE_NAME", field="name")


async def list_fields(
    session: AsyncSession, workspace_id: int, keyword: str | None = None
) -> Sequence[BotField]:
    stmt = select(BotField).where(BotField.workspace_id == workspace_id)
    if keyword:
        stmt = stmt.where(func.lower(BotField.name).contains(keyword.lower(), autoescape=True))
    return (await session.execute(stmt.order_by(BotField.name))).scalars().all()


async def _load(session: AsyncSession, workspace_id: int, refs: Sequence[FieldRef]) -> list[BotField]:
    """The bot fields any of `refs` may name, in one query."""
    ids = {r.id for r in refs if r.id is not None}
    names = {r.name for r in refs if r.name is not None}
    stmt = select(BotField).where(
        BotField.workspace_id == workspace_id, or_(BotField.id.in_(ids), BotField.name.in_(names))
    )
    return list((await session.execute(stmt)).scalars().all())


def resolve(ref: FieldRef, fields: Sequence[BotField]) -> BotField | None:
    """The field `ref` names among `fields`: a matching id wins over a matching name."""
    if ref.id is not None:
        for field in fields:
            if field.id == ref.id:
                return field
    if ref.name is not None:
        for field in fields:
            if field.name == ref.name:
                return field
    return None


async def get_by_id_or_name(session: AsyncSession, workspace_id: int, id_or_name: str) -> BotField:
    ref = FieldRef.id_or_name(id_or_name)
    field = resolve(ref, await _load(session, workspace_id, [ref]))
    if field is None:
        raise NotFound(f"Bot field {id_or_name!r} not found.", resource="botField")
    return field


async def create(session: AsyncSession, workspace_id: int, data: BotFieldCreate) -> BotField:
    value = coerce_value(data.type, data.value)
    existing = await session.scalar(
        select(BotField.id).where(BotField.workspace_id == workspace_id, BotField.name == data.name)
    )
    if existing is not None:
        raise _duplicate(data.name)
    field = BotField(
        workspace_id=workspace_id,
        name=data.name,
        type=data.type,
        value=value,
        description=data.description,
        folder_id=data.folder_id,
    )
    session.add(field)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent create of the same name
        raise _duplicate(data.name) from None
    return field


async def set_value(session: AsyncSession, workspace_id: int, id_or_name: str, value: Any) -> BotField:
    field = await get_by_id_or_name(session, workspace_id, id_or_name)
    field.value = coerce_value(field.type, value)
    await session.flush()
    return field


async def unset_value(session: AsyncSession, workspace_id: int, id_or_name: str) -> None:
    """Clear the field's value; the field itself stays."""
    field = await get_by_id_or_name(session, workspace_id, id_or_name)
    field.value = None
    await session.flush()


async def set_values(
    session: AsyncSession, workspace_id: int, items: Sequence[tuple[FieldRef, Any]]
) -> list[BotField]:
    """Set several values at once: every item is checked before anything changes."""
    fields = await _load(session, workspace_id, [ref for ref, _ in items])
    changes: list[tuple[BotField, str | None]] = []
    seen: set[int] = set()
    missing: list[str] = []
    for index, (ref, raw) in enumerate(items):
        field = resolve(ref, fields)
        if field is None:
            missing.append(ref.label())
            continue
        if field.id in seen:
            raise invalid_field(f"fields.{index}", f"names bot field {field.name!r} a second time")
        seen.add(field.id)
        changes.append((field, coerce_value(field.type, raw, field=f"fields.{index}.value")))
    if missing:
        raise NotFound(f"Bot fields not found: {', '.join(missing)}.", resource="botField", missing=missing)
    for field, value in changes:
        field.value = value
    await session.flush()
    return [field for field, _ in changes]
