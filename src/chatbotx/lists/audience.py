"""Compiling a contactFilter for a list query, with its custom fields' types loaded in one query."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.contacts.filters import contact_filter_clause, custom_field_ids
from chatbotx.models import CustomField


async def contact_filter_where(
    session: AsyncSession, workspace_id: int, contact_filter: Mapping[str, Any]
) -> ColumnElement[bool]:
    """A WHERE clause over Contact; customFields conditions are checked against the fields' real types."""
    field_ids = custom_field_ids(contact_filter)
    types: dict[int, str] = {}
    if field_ids:
        rows = await session.execute(
            select(CustomField.id, CustomField.type).where(
                CustomField.workspace_id == workspace_id, CustomField.id.in_(field_ids)
            )
        )
        types = {field_id: field_type for field_id, field_type in rows}
    return contact_filter_clause(workspace_id, contact_filter, custom_field_types=types)
