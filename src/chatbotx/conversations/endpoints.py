"""Conversations: /api/v1/conversations."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from chatbotx.contacts.filters import parse_contact_filter
from chatbotx.conversations import service
from chatbotx.conversations.schemas import BotCategory, Conversation, StatusFilter
from chatbotx.kit.db import SessionDep
from chatbotx.kit.pagination import MAX_PAGE, MAX_PER_PAGE, CursorPage
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.lists.params import query_id, query_ids

router = APIRouter(prefix="/api/v1/conversations", tags=["Conversations"])
Reader = Annotated[Principal, Depends(require("conversations.list"))]
Channel = Literal[
    "omnichannel", "webchat", "messenger", "whatsapp", "zalo", "smtp", "telegram", "instagram", "tiktok"
]
STATUS_HELP = (
    "noAdminReply (the contact wrote and no admin replied since), unread (the contact wrote after an agent "
    "last read it), followUp (followed), archived, blocked (the contact is blocked), or the conversation "
    "status open|pending|snoozed|resolved"
)


@router.get(
    "",
    response_model=CursorPage[Conversation],
    **op("listConversations", "List conversations", "conversations list"),
)
async def list_conversations(
    session: SessionDep,
    who: Reader,
    cursor: Annotated[
        str | None, Query(max_length=200, description="nextCursor of the previous page; omit for the first")
    ] = None,
    perPage: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page (default 20, max 50)")] = 20,
    botCategory: Annotated[
        BotCategory | None, Query(description="bot (bot on), human (bot off) or all")
    ] = None,
    assignedId: Annotated[
        str | None, Query(max_length=40, description="Assigned to this member (or user) id")
    ] = None,
    channel: Annotated[
        Channel | None, Query(description="Only conversations on inboxes of this channel")
    ] = None,
    status: Annotated[StatusFilter | None, Query(description=STATUS_HELP)] = None,
    keyword: Annotated[
        str | None,
        Query(max_length=200, description="The contact's name, email or phone contains (any case)"),
    ] = None,
    botEnabled: Annotated[bool | None, Query(description="Bot on (true) or off (false)")] = None,
    tags: Annotated[
        list[str] | None,
        Query(description="The contact has any of these tag ids (repeat or comma-separate; at most 100)"),
    ] = None,
    contactFilter: Annotated[
        str | None, Query(max_length=20000, description="URL-encoded JSON contactFilter over the contact")
    ] = None,
) -> object:
    query = service.ConversationQuery(
        bot_category=botCategory,
        bot_enabled=botEnabled,
        assigned_id=query_id(assignedId, "assignedId"),
        channel=channel,
        status=status,
        keyword=keyword,
        tag_ids=tuple(query_ids(tags, "tags")),
        contact_filter=parse_contact_filter(contactFilter),
    )
    data, next_cursor = await service.list_conversations(
        session, who.workspace_id, query, cursor, min(perPage, MAX_PER_PAGE)
    )
    return {"data": data, "nextCursor": next_cursor}
