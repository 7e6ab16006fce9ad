"""Reading and writing a contact's custom field values, typed and checked by each field's type."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.contact_fields.schemas import ContactCustomFieldValue, FieldAssignment, FieldValue
from chatbotx.custom_fields import service as custom_fields_service
from chatbotx.kit.db import utcnow
from chatbotx.kit.errors import InvalidData, NotFound
from chatbotx.kit.fieldtypes import coerce_value
from chatbotx.kit.ids import parse_id
from chatbotx.models import Contact, ContactCustomField, CustomField


def _value_out(row: Any, field: CustomField) -> ContactCustomFieldValue:
    return ContactCustomFieldValue(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        value=row.value,
        contact_id=row.contact_id,
        custom_field_id=row.custom_field_id,
        name=field.name,
        type=field.type,
    )


async def list_values(session: AsyncSession, contact: Contact) -> list[ContactCustomFieldValue]:
    stmt = (
        select(ContactCustomField, CustomField)
        .join(CustomField, CustomField.id == ContactCustomField.custom_field_id)
        .where(
            ContactCustomField.contact_id == contact.id,
            CustomField.workspace_id == contact.workspace_id,
        )
        .order_by(CustomField.name, CustomField.id)
    )
    return [_value_out(row, field) for row, field in (await session.execute(stmt)).all()]


async def get_field(session: AsyncSession, workspace_id: int, id_or_name: str | int) -> CustomField:
    """The workspace's custom field by id, else by exact name; 404 otherwise."""
    return await custom_fields_service.get_by_id_or_name(session, workspace_id, str(id_or_name))


async def _fields_by_ref(
    session: AsyncSession, workspace_id: int, refs: Sequence[str | int]
) -> dict[str | int, CustomField]:
    """One query for many references (ids or names); a digit string is tried as an id, then as a name."""
    ids = {ref_id for ref in refs if (ref_id := parse_id(ref)) is not None}
    names = {ref for ref in refs if isinstance(ref, str)}
    conditions = []
    if ids:
        conditions.append(CustomField.id.in_(ids))
    if names:
        conditions.append(CustomField.name.in_(names))
    if not conditions:
        return {}
    rows = (
        (
            await session.execute(
                select(CustomField).where(CustomField.workspace_id == workspace_id, or_(*conditions))
            )
        )
        .scalars()
        .all()
    )
    by_id = {field.id: field for field in rows}
    by_name = {field.name: field for field in rows}
    found: dict[str | int, CustomField] = {}
    for ref in refs:
        ref_id = parse_id(ref)
        field = by_id.get(ref_id) if ref_id is not None else None
        if field is None and isinstance(ref, str):
            field = by_name.get(ref)
        if field is not None:
            found[ref] = field
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    field: CustomField
    value: str | None


def _describe(error: dict[str, Any]) -> str:
    where = f"{error['field']} (custom field {error['name']!r})" if "name" in error else error["field"]
    return f"{where}: {error['message']}"


def _check(field: CustomField, value: FieldValue, location: str) -> _Checked:
    """The value in stored form, or a 422 that names both the request location and the field."""
    try:
        return _Checked(field, coerce_value(field.type, value, field=location))
    except InvalidData as exc:
        problem = (exc.data or {}).get("errors", [{}])[0].get("message", exc.message)
        error = {"field": location, "message": problem, "customFieldId": str(field.id), "name": field.name}
        raise InvalidData(_describe(error), errors=[error]) from None


async def _write(session: AsyncSession, contact: Contact, checked: Sequence[_Checked]) -> None:
    """Upsert the non-null values and delete the cleared ones, in two statements."""
    now = utcnow()
    rows = [
        {"contact_id": contact.id, "custom_field_id": c.field.id, "value": c.value, "updated_at": now}
        for c in checked
        if c.value is not None
    ]
    cleared = [c.field.id for c in checked if c.value is None]
    if rows:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        stmt = insert(ContactCustomField).values(rows)
        # ON CONFLICT keeps concurrent writers of the same value from failing on the unique key.
        stmt = stmt.on_conflict_do_update(
            index_elements=[ContactCustomField.contact_id, ContactCustomField.custom_field_id],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        await session.execute(stmt)
    if cleared:
        await session.execute(
            delete(ContactCustomField).where(
                ContactCustomField.contact_id == contact.id, ContactCustomField.custom_field_id.in_(cleared)
            )
        )


async def set_values(session: AsyncSession, contact: Contact, assignments: Sequence[FieldAssignment]) -> None:
    """Set many values at once: every field must exist and every value fit, or nothing is written."""
    refs = [a.ref for a in assignments]
    found = await _fields_by_ref(session, contact.workspace_id, refs)
    missing = [str(ref) for ref in refs if ref not in found]
    if missing:
        raise NotFound(
            f"Custom fields not found: {', '.join(missing)}.", resource="customField", fields=missing
        )
    errors: list[dict[str, Any]] = []
    checked: list[_Checked] = []
    seen: dict[int, int] = {}
    for index, assignment in enumerate(assignments):
        field = found[assignment.ref]
        location = f"fields.{index}"
        if field.id in seen:
            errors.append(
                {
                    "field": location,
                    "message": f"sets custom field {field.name!r} again (see fields.{seen[field.id]})",
                }
            )
            continue
        seen[field.id] = index
        try:
            checked.append(_check(field, assignment.value, f"{location}.value"))
        except InvalidData as exc:
            errors.extend((exc.data or {}).get("errors", []))
    if errors:
        raise InvalidData("; ".join(_describe(e) for e in errors), errors=errors)
    await _write(session, contact, checked)


async def get_value(session: AsyncSession, contact: Contact, id_or_name: str) -> ContactCustomFieldValue:
    field = await get_field(session, contact.workspace_id, id_or_name)
    row = await session.scalar(
        select(ContactCustomField).where(
            ContactCustomField.contact_id == contact.id, ContactCustomField.custom_field_id == field.id
        )
    )
    if row is None:
        raise NotFound(
            f"The contact has no value for custom field {field.name!r}.",
            resource="contactCustomField",
            customFieldId=str(field.id),
        )
    return _value_out(row, field)


async def set_value(
    session: AsyncSession, contact: Contact, id_or_name: str, value: FieldValue
) -> ContactCustomFieldValue:
    field = await get_field(session, contact.workspace_id, id_or_name)
    await _write(session, contact, [_check(field, value, "value")])
    row = (
        await session.execute(
            select(ContactCustomField)
            .where(
                ContactCustomField.contact_id == contact.id, ContactCustomField.custom_field_id == field.id
            )
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return _value_out(row, field)


async def clear_value(session: AsyncSession, contact: Contact, id_or_name: str) -> None:
    """Clear one value; clearing a field the contact has no value for is fine (the field must exist)."""
    field = await get_field(session, contact.workspace_id, id_or_name)
    await _write(session, contact, [_Checked(field, None)])


async def clear_values(session: AsyncSession, contact: Contact) -> None:
    await session.execute(delete(ContactCustomField).where(ContactCustomField.contact_id == contact.id))
