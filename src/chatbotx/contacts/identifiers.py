"""Contact identifiers in paths: `id:<id>`, `email:<address>`, `phone:<+E.164>`, or a bare id."""

from __future__ import annotations

import dataclasses
from typing import Literal

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.errors import NotFound, invalid_field
from chatbotx.kit.ids import parse_id
from chatbotx.kit.normalize import normalize_email, normalize_phone
from chatbotx.models import Contact


@dataclasses.dataclass(frozen=True, slots=True)
class Identifier:
    kind: Literal["id", "email", "phone"]
    value: str | int


def parse_identifier(raw: str) -> Identifier:
    """Parse a path identifier; a malformed one is a 422 naming `identifier`."""
    kind, sep, rest = raw.partition(":")
    if not sep:
        kind, rest = "id", raw
    kind = kind.strip().lower()
    if kind == "id":
        contact_id = parse_id(rest)
        if contact_id is None:
            raise invalid_field("identifier", "must be id:<id>, email:<address>, phone:<+E.164> or an id")
        return Identifier("id", contact_id)
    if kind == "email":
        return Identifier("email", normalize_email(rest, field="identifier"))
    if kind == "phone":
        return Identifier("phone", normalize_phone(rest, field="identifier"))
    raise invalid_field("identifier", "must be id:<id>, email:<address>, phone:<+E.164> or an id")


def identifier_clause(identifier: Identifier) -> ColumnElement[bool]:
    if identifier.kind == "id":
        return Contact.id == identifier.value
    if identifier.kind == "email":
        return Contact.email == identifier.value
    return Contact.phone_number == identifier.value


async def find_contact(session: AsyncSession, workspace_id: int, identifier: Identifier) -> Contact | None:
    stmt = (
        select(Contact)
        .where(Contact.workspace_id == workspace_id, identifier_clause(identifier))
        .order_by(Contact.id)
        .limit(1)
    )
    return await session.scalar(stmt)


async def resolve_contact(session: AsyncSession, workspace_id: int, raw: str) -> Contact:
    """The workspace's contact named by `raw`, or 404 (another workspace's contact is a 404 too)."""
    contact = await find_contact(session, workspace_id, parse_identifier(raw))
    if contact is None:
        raise NotFound(f"Contact {raw!r} not found.", resource="contact")
    return contact
