"""Custom field definitions; every query is scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.custom_fields.schemas import CustomFieldCreate, CustomFieldUpdate
from chatbotx.kit.errors import BusinessError, Conflict, NotFound
from chatbotx.kit.lookup import by_id_or_name
from chatbotx.models import ContactCustomField, CustomField


def _duplicate(name: str) -> Conflict:
    return Conflict(f"A custom field named {name!r} already exists.", code="DUPLICATE_NAME", field="name")


async def list_fields(
    session: AsyncSession, workspace_id: int, keyword: str | None = None
) -> Sequence[CustomField]:
    stmt = select(CustomField).where(CustomField.workspace_id == workspace_id)
    if keyword:
        stmt = stmt.where(func.lower(CustomField.name).contains(keyword.lower(), autoescape=True))
    return (await session.execute(stmt.order_by(CustomField.name))).scalars().all()


async def get(session: AsyncSession, workspace_id: int, field_id: int | None) -> CustomField:
    field = None
    if field_id is not None:
        field = await session.scalar(
            select(CustomField).where(CustomField.id == field_id, CustomField.workspace_id == workspace_id)
        )
    if field is None:
        raise NotFound("Custom field not found.", resource="customField")
    return field


async def get_by_id_or_name(session: AsyncSession, workspace_id: int, id_or_name: str) -> CustomField:
    stmt = select(CustomField).where(CustomField.workspace_id == workspace_id)
    not_found = NotFound(f"Custom field {id_or_name!r} not found.", resource="customField")
    return await by_id_or_name(session, stmt, CustomField.id, CustomField.name, id_or_name, not_found)


async def _ensure_name_free(
    session: AsyncSession, workspace_id: int, name: str, except_id: int | None = None
) -> None:
    existing = await session.scalar(
        select(CustomField.id).where(CustomField.workspace_id == workspace_id, CustomField.name == name)
    )
    if existing is not None and existing != except_id:
        raise _duplicate(name)


async def _flush(session: AsyncSession, name: str) -> None:
    # The pre-check misses a concurrent insert of the same name; the unique constraint catches it.
    try:
        await session.flush()
    except IntegrityError:
        raise _duplicate(name) from None


async def create(session: AsyncSession, workspace_id: int, data: CustomFieldCreate) -> CustomField:
    await _ensure_name_free(session, workspace_id, data.name)
    field = CustomField(
        workspace_id=workspace_id,
        name=data.name,
        type=data.type,
        description=data.description,
        folder_id=data.folder_id,
    )
    session.add(field)
    await _flush(session, data.name)
    return field


async def _has_values(session: AsyncSession, field_id: int) -> bool:
    stmt = select(ContactCustomField.id).where(
        ContactCustomField.custom_field_id == field_id, ContactCustomField.value.is_not(None)
    )
    return await session.scalar(stmt.limit(1)) is not None


async def update(
    session: AsyncSession, workspace_id: int, field_id: int | None, data: CustomFieldUpdate
) -> CustomField:
    field = await get(session, workspace_id, field_id)
    if data.name is not None and data.name != field.name:
        await _ensure_name_free(session, workspace_id, data.name, field.id)
        field.name = data.name
    if data.type is not None and data.type != field.type:
        # Stored values were checked against the old type; retyping would leave values that don't parse.
        if await _has_values(session, field.id):
            raise BusinessError(
                "The type of a custom field cannot change while contacts have values for it; "
                "clear the values first.",
                code="FIELD_HAS_VALUES",
                field="type",
            )
        field.type = data.type
    if "description" in data.model_fields_set:
        field.description = data.description
    if "folder_id" in data.model_fields_set:
        field.folder_id = data.folder_id
    await _flush(session, field.name)
    return field


async def delete(session: AsyncSession, workspace_id: int, field_id: int | None) -> None:
    """Delete the field and every contact's value for it."""
    field = await get(session, workspace_id, field_id)
    await session.execute(
        sql_delete(ContactCustomField).where(ContactCustomField.custom_field_id == field.id)
    )
    await session.delete(field)
    await session.flush()
