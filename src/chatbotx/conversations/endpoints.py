"""Conversations: /api/v1/conversations."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from chatbotx.contacts.filters import parse_contact_filter
from chatbotx.conversations import service
from chatbotx.conversations.schemas import (
    Assignment,
    BotCategory,
    BotSetting,
    Conversation,
    ConversationNote,
    ConversationReply,
    StatusChange,
    StatusFilter,
    TypingIndicator,
)
from chatbotx.kit.db import SessionDep
from chatbotx.kit.pagination import MAX_PAGE, MAX_PER_PAGE, CursorPage
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.lists.params import query_id, query_ids
from chatbotx.messages.schemas import Message

router = APIRouter(prefix="/api/v1/conversations", tags=["Conversations"])
Reader = Annotated[Principal, Depends(require("conversations.list"))]
Writer = Annotated[Principal, Depends(require("conversations.edit"))]
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


@router.get(
    "/{id}", response_model=Conversation, **op("getConversation", "Get a conversation", "conversations get")
)
async def get_conversation(session: SessionDep, who: Reader, id: str) -> object:
    return await service.get_out(session, who.workspace_id, id)


@router.get(
    "/{id}/messages",
    response_model=CursorPage[Message],
    **op(
        "listConversationMessages",
        "List the messages of a conversation",
        "conversations messages list",
        description="Newest first, private notes included; page with nextCursor.",
    ),
)
async def list_conversation_messages(
    session: SessionDep,
    who: Reader,
    id: str,
    cursor: Annotated[
        str | None, Query(max_length=200, description="nextCursor of the previous page; omit for the first")
    ] = None,
    perPage: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page (default 20, max 50)")] = 20,
) -> object:
    conversation = await service.get(session, who.workspace_id, id)
    return await service.list_messages(session, conversation, cursor, min(perPage, MAX_PER_PAGE))


@router.post(
    "/{id}/messages",
    status_code=201,
    response_model=Message,
    **op(
        "replyToConversation",
        "Reply in a conversation",
        "conversations reply",
        description="Queue a message to the contact on the conversation's inbox (text, files, buttons, quick "
        "replies, or a template alone); answers the queued message. The dispatcher sends it.",
    ),
)
async def reply_to_conversation(session: SessionDep, who: Writer, id: str, body: ConversationReply) -> object:
    conversation = await service.get(session, who.workspace_id, id)
    return await service.reply(session, who, conversation, body)


@router.post(
    "/{id}/typing",
    status_code=204,
    response_class=Response,
    **op(
        "setConversationTyping",
        "Show or hide the typing indicator to the contact",
        "conversations typing",
        description="typing true shows the agent typing in the contact's thread (Messenger and Instagram "
        "sender actions, Telegram's chat action, the webchat), false hides it; publishes "
        "conversation.typing_on / conversation.typing_off. Outside the messaging window: 400 OUTSIDE_WINDOW.",
    ),
)
async def set_conversation_typing(session: SessionDep, who: Writer, id: str, body: TypingIndicator) -> None:
    conversation = await service.get(session, who.workspace_id, id)
    await service.set_typing(session, conversation, body.typing)


@router.post(
    "/{id}/notes",
    status_code=201,
    response_model=Message,
    **op(
        "createConversationNote",
        "Add a private note to a conversation",
        "conversations note add",
        description="A private message for agents, never sent to the contact.",
    ),
)
async def create_conversation_note(
    session: SessionDep, who: Writer, id: str, body: ConversationNote
) -> object:
    conversation = await service.get(session, who.workspace_id, id)
    return await service.add_note(session, who, conversation, body.text)


@router.post(
    "/{id}/assignments",
    response_model=Conversation,
    **op(
        "assignConversation",
        "Assign a conversation to a member and/or a team",
        "conversations assign",
        description="assigneeId (a member id) and teamId: a value assigns, null clears, omitted keeps.",
    ),
)
async def assign_conversation(session: SessionDep, who: Writer, id: str, body: Assignment) -> object:
    conversation = await service.get(session, who.workspace_id, id)
    return await service.assign(session, conversation, body)


@router.post(
    "/{id}/status",
    response_model=Conversation,
    **op(
        "updateConversationStatus",
        "Set a conversation's status",
        "conversations status set",
        description="open, pending, resolved, or snoozed until snoozedUntil (a future time; reopens then).",
    ),
)
async def update_conversation_status(session: SessionDep, who: Writer, id: str, body: StatusChange) -> object:
    conversation = await service.get(session, who.workspace_id, id)
    return await service.set_status(session, conversation, body)


@router.post(
    "/{id}/bot",
    response_model=Conversation,
    **op(
        "setConversationBot",
        "Turn the bot on or off for a conversation",
        "conversations bot set",
        description="botEnabled; when off, botResumeAt (a future time) turns it back on.",
    ),
)
async def set_conversation_bot(session: SessionDep, who: Writer, id: str, body: BotSetting) -> object:
    conversation = await service.get(session, who.workspace_id, id)
    return await service.set_bot(session, conversation, body)


@router.post(
    "/{id}/read",
    response_model=Conversation,
    **op("markConversationRead", "Mark a conversation read by the agents", "conversations read"),
)
async def mark_conversation_read(session: SessionDep, who: Writer, id: str) -> object:
    conversation = await service.get(session, who.workspace_id, id)
    return await service.mark_read(session, conversation)


@router.post(
    "/{id}/follow",
    response_model=Conversation,
    **op("followConversation", "Mark a conversation for follow-up", "conversations follow"),
)
async def follow_conversation(session: SessionDep, who: Writer, id: str) -> object:
    conversation = await service.get(session, who.workspace_id, id)
    return await service.set_followed(session, conversation, True)


@router.delete(
    "/{id}/follow",
    response_model=Conversation,
    **op("unfollowConversation", "Remove a conversation's follow-up mark", "conversations unfollow"),
)
async def unfollow_conversation(session: SessionDep, who: Writer, id: str) -> object:
    conversation = await service.get(session, who.workspace_id, id)
    return await service.set_followed(session, conversation, False)
