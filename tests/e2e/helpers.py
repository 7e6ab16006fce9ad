"""What the channels' end-to-end flows read back: rows of an inbox, a sender's identity, a contact's messages,
and a bounded wait for the dispatcher."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from chatbotx.kit import db
from chatbotx.models import ContactInbox, Conversation, Message
from tests.conftest import Tenant
from tests.polling import wait_for


async def count(model: Any, inbox_id: str | int) -> int:
    async with db.get_database().sessionmaker() as session:
        stmt = select(func.count()).select_from(model).where(model.inbox_id == int(inbox_id))
        return int(await session.scalar(stmt) or 0)


async def identity(inbox_id: str | int, source_id: str) -> ContactInbox:
    """The sender's contact inbox (their channel id on the inbox); fails when there is none."""
    async with db.get_database().sessionmaker() as session:
        found = await session.scalar(
            select(ContactInbox).where(
                ContactInbox.inbox_id == int(inbox_id), ContactInbox.source_id == source_id
            )
        )
    assert found is not None, f"no contact for {source_id}"
    return found


async def messages(tenant: Tenant, contact_id: int) -> list[dict[str, Any]]:
    answer = await tenant.client.get(f"/api/v1/contacts/{contact_id}/messages")
    assert answer.status_code == 200, answer.text
    return list(reversed(answer.json()["data"]))  # oldest first


async def sent_out(inbox_id: str | int) -> None:
    """Wait (bounded) until the app's dispatcher has sent or failed every queued message of the inbox."""

    async def settled() -> bool:
        async with db.get_database().sessionmaker() as session:
            stmt = (
                select(func.count())
                .select_from(Message)
                .where(Message.inbox_id == int(inbox_id), Message.status == "queued")
            )
            return not await session.scalar(stmt)

    await wait_for(settled)


async def conversation_of(contact_id: int) -> str:
    async with db.get_database().sessionmaker() as session:
        found = await session.scalar(select(Conversation.id).where(Conversation.contact_id == contact_id))
    assert found is not None
    return str(found)
