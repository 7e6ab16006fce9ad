"""A contact's messages (cursor-paged, newest first) and sending to a contact: message, flow, auto-reply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from chatbotx.contacts.identifiers import resolve_contact
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ERROR_RESPONSES, ErrorBody
from chatbotx.kit.pagination import MAX_PAGE, MAX_PER_PAGE, CursorPage
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require
from chatbotx.messages import service
from chatbotx.messages.schemas import AutoReplyTrigger, FlowSend, Message, MessageSend

router = APIRouter(prefix="/api/v1/contacts/{identifier}", tags=["Contacts"])
Reader = Annotated[Principal, Depends(require("messages.list"))]
Sender = Annotated[Principal, Depends(require("messages.edit"))]
# Sending can meet business rules: CONTACT_BLOCKED, NO_INBOX.
SEND_RESPONSES = {
    **ERROR_RESPONSES,
    400: {
        "model": ErrorBody,
        "description": "The contact is blocked, no inbox to send on, or malformed JSON",
    },
}
Identifier = Annotated[
    str, Path(description="id:<id>, email:<address>, phone:<+E.164> or a bare id", max_length=400)
]


@router.get(
    "/messages",
    response_model=CursorPage[Message],
    **op("listContactMessages", "List messages for contact", "contacts messages list"),
)
async def list_contact_messages(
    session: SessionDep,
    who: Reader,
    identifier: Identifier,
    cursor: Annotated[
        str | None, Query(max_length=100, description="nextCursor of the previous page; omit for the newest")
    ] = None,
    perPage: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description="Items per page (default 20, capped at 50)")
    ] = 20,
) -> object:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    return await service.list_messages(session, contact, cursor, min(perPage, MAX_PER_PAGE))


@router.get(
    "/messages/{messageId}",
    response_model=Message,
    **op("getContactMessage", "Get a message by ID for a contact", "contacts message get"),
)
async def get_contact_message(
    session: SessionDep,
    who: Reader,
    identifier: Identifier,
    messageId: Annotated[str, Path(description="Message id", max_length=40)],
) -> object:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    return await service.get_message(session, contact, messageId)


@router.post(
    "/messages",
    status_code=204,
    response_class=Response,
    **op(
        "sendMessage",
        "Send message to contact",
        "contacts message send",
        description="Queue text and/or files (file ids or URLs) for the contact, or send a flow "
        "(flowId, optionally from nodeId). The message is stored as queued and delivered by the worker.",
        responses=SEND_RESPONSES,
    ),
)
async def send_message(session: SessionDep, who: Sender, identifier: Identifier, body: MessageSend) -> None:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    await service.send_message(session, who, contact, body)


@router.post(
    "/flows",
    status_code=204,
    response_class=Response,
    **op("sendContactFlow", "Send flow to contact", "contacts flow add", responses=SEND_RESPONSES),
)
async def send_contact_flow(session: SessionDep, who: Sender, identifier: Identifier, body: FlowSend) -> None:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    await service.send_flow(session, contact, body)


@router.post(
    "/auto-replies",
    status_code=204,
    response_class=Response,
    **op(
        "triggerAutoReply",
        "Trigger auto reply for contact",
        "contacts auto-replies add",
        description="Match `keyword` against the workspace's active keywords and queue the best one's reply "
        "(a message or a flow). No match is a 404 KEYWORD_NOT_FOUND.",
        responses=SEND_RESPONSES,
    ),
)
async def trigger_auto_reply(
    session: SessionDep, who: Sender, identifier: Identifier, body: AutoReplyTrigger
) -> None:
    contact = await resolve_contact(session, who.workspace_id, identifier)
    await service.trigger_auto_reply(session, contact, body)
