"""Watermark receipts (Messenger): "everything sent to this contact before time T was delivered / read".

Messenger's `read` (and a `delivery` without `mids`) names no message, only a watermark. The adapter turns it
into an InboundStatus whose provider id is `watermark:<contact source id>:<ms>` (channels.meta); `expand`
replaces each such receipt by one receipt per outgoing message of ours to that contact sent at or before the
watermark and not yet at that status, so the batch applies them like any other receipt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatbotx.channels.base import InboundStatus
from chatbotx.channels.meta import parse_watermark
from chatbotx.models import ContactInbox, Message

Row = TypeVar("Row")
# The statuses a receipt can still move forward (statuses only move forward; failed is final).
_BELOW = {"delivered": ("sent",), "read": ("sent", "delivered")}


async def expand(
    session: AsyncSession, inbox_id: int, statuses: Sequence[tuple[Row, InboundStatus]]
) -> list[tuple[Row, InboundStatus]]:
    """`statuses` with each watermark receipt replaced by the receipts of the messages it covers (none when
    it covers nothing new: the watermark is then simply handled)."""
    out: list[tuple[Row, InboundStatus]] = []
    for row, status in statuses:
        watermark = parse_watermark(status.provider_message_id)
        if watermark is None:
            out.append((row, status))
            continue
        below = _BELOW.get(status.status)
        if below is None:
            continue
        contact, at = watermark
        stmt = (
            select(Message.provider_message_id)
            .join(
                ContactInbox,
                (ContactInbox.contact_id == Message.contact_id) & (ContactInbox.inbox_id == Message.inbox_id),
            )
            .where(
                Message.inbox_id == inbox_id,
                ContactInbox.source_id == contact,
                Message.direction == "outgoing",
                Message.private.is_(False),
                Message.provider_message_id.is_not(None),
                Message.status.in_(below),
                Message.sent_at <= at,
            )
            .order_by(Message.id)
        )
        for provider_id in (await session.scalars(stmt)).all():
            assert provider_id is not None
            out.append((row, dataclasses.replace(status, provider_message_id=provider_id)))
    return out
