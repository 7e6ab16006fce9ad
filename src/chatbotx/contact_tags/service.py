"""Adding, listing and removing a contact's tags; every tag id is checked against the workspace."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.kit.errors import NotFound
from chatbotx.models import Contact, ContactTag, Tag


async def list_contact_tags(session: AsyncSession, contact: Contact) -> Sequence[Tag]:
    stmt = (
        select(Tag)
        .join(ContactTag, ContactTag.tag_id == Tag.id)
        .where(
            ContactTag.contact_id == contact.id,
            Tag.workspace_id == contact.workspace_id,
            Tag.deleted_at.is_(None),
        )
        .order_by(Tag.name, Tag.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def _existing_tag_ids(session: AsyncSession, workspace_id: int, tag_ids: Iterable[int]) -> list[int]:
    """`tag_ids` deduplicated in order; a 404 naming every one that is not a live tag of the workspace."""
    wanted = list(dict.fromkeys(tag_ids))
    found = set(
        (
            await session.execute(
                select(Tag.id).where(
                    Tag.workspace_id == workspace_id, Tag.id.in_(wanted), Tag.deleted_at.is_(None)
                )
            )
        ).scalars()
    )
    missing = [tag_id for tag_id in wanted if tag_id not in found]
    if missing:
        names = ", ".join(str(tag_id) for tag_id in missing)
        raise NotFound(f"Tags not found: {names}.", resource="tag", tagIds=[str(i) for i in missing])
    return wanted


async def add_tags(session: AsyncSession, contact: Contact, tag_ids: Iterable[int]) -> None:
    """Put the tags on the contact; tags it already has are left as they are."""
    wanted = await _existing_tag_ids(session, contact.workspace_id, tag_ids)
    rows = [{"contact_id": contact.id, "tag_id": tag_id} for tag_id in wanted]
    # ON CONFLICT DO NOTHING keeps a concurrent add of the same tag from failing.
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(insert(ContactTag).values(rows).on_conflict_do_nothing())


async def remove_tags(session: AsyncSession, contact: Contact, tag_ids: Iterable[int]) -> None:
    """Take the tags off the contact; tags it does not have are ignored."""
    wanted = await _existing_tag_ids(session, contact.workspace_id, tag_ids)
    await session.execute(
        delete(ContactTag).where(ContactTag.contact_id == contact.id, ContactTag.tag_id.in_(wanted))
    )
