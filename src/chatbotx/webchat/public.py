"""Our objects in the Client API's public shapes (Chatwoot's), from rows or from event payloads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from chatbotx.dispatcher.media import media_url
from chatbotx.models import Conversation
from chatbotx.webchat.schemas import PublicConversation, PublicMessage, PublicSender

INCOMING, OUTGOING, ACTIVITY, TEMPLATE = 0, 1, 2, 3


def epoch(value: dt.datetime | str | None) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())


def message_type(direction: str, sender_type: str, content_type: str) -> int:
    if sender_type == "system":
        return ACTIVITY
    if content_type == "template":
        return TEMPLATE
    return INCOMING if direction == "incoming" else OUTGOING


def agent_id(payload: dict[str, Any]) -> int | None:
    """The member id of the agent who sent the message in `payload`, if an agent did."""
    sender = payload.get("senderId")
    if payload.get("senderType") != "agent" or sender is None:
        return None
    try:
        return int(sender)
    except (TypeError, ValueError):
        return None


def _sender(payload: dict[str, Any], names: Mapping[int, str | None]) -> PublicSender | None:
    kind = payload.get("senderType")
    sender_id = payload.get("senderId")
    if kind == "contact":
        return PublicSender(id=sender_id or payload.get("contactId"), type="contact")
    if kind == "agent":
        member = agent_id(payload)
        return PublicSender(id=sender_id, type="user", name=names.get(member) if member is not None else None)
    if kind == "bot":
        return PublicSender(id=sender_id, type="agent_bot")
    return None


def _file_type(content_type: str | None) -> str:
    kind = (content_type or "").split("/", 1)[0]
    return kind if kind in ("image", "video", "audio") else "file"


def public_attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    """A message's attachment for the visitor: the agent API's entry (whose `url` needs an API token) with a
    signed, expiring `data_url` the browser can open, and Chatwoot's `file_type`."""
    out = {k: v for k, v in attachment.items() if k != "url"}
    out["file_type"] = _file_type(attachment.get("contentType"))
    try:
        out["data_url"] = media_url(int(attachment["fileId"]))
    except (KeyError, TypeError, ValueError):  # no stored file (a failed download): nothing to link to
        out["data_url"] = None
    return out


def public_message(payload: dict[str, Any], names: Mapping[int, str | None] | None = None) -> PublicMessage:
    """`payload`: the message as the agent API and message.* events show it (camelCase); `names`: agents'
    display names by member id."""
    attributes = dict(payload.get("contentAttributes") or {})
    echo_id = attributes.pop("echoId", None)
    return PublicMessage(
        id=str(payload["id"]),
        content=payload.get("content"),
        message_type=message_type(
            payload.get("direction", "outgoing"),
            payload.get("senderType", ""),
            payload.get("contentType", ""),
        ),
        content_type=payload.get("contentType") or "text",
        content_attributes=attributes,
        created_at=epoch(payload.get("createdAt")),
        conversation_id=str(payload["conversationId"]),
        attachments=[public_attachment(a) for a in payload.get("attachments") or []],
        sender=_sender(payload, names or {}),
        echo_id=echo_id,
        status=payload.get("status") or "sent",
    )


def public_conversation(conversation: Conversation) -> PublicConversation:
    c = conversation
    return PublicConversation(
        id=str(c.id),
        inbox_id=str(c.inbox_id) if c.inbox_id is not None else None,
        status=c.status,
        contact_last_seen_at=epoch(c.contact_last_read_at),
        agent_last_seen_at=epoch(c.agent_last_read_at),
        created_at=epoch(c.created_at),
        last_activity_at=epoch(c.last_activity_at),
    )


def public_conversation_event(payload: dict[str, Any]) -> PublicConversation:
    """From a conversation.* event's payload (the agent API's object, or the inbound pipeline's)."""
    return PublicConversation(
        id=str(payload["id"]),
        inbox_id=payload.get("inboxId"),
        status=payload.get("status") or "open",
        contact_last_seen_at=epoch(payload.get("contactLastReadAt")),
        agent_last_seen_at=epoch(payload.get("agentLastReadAt")),
        created_at=epoch(payload.get("createdAt")),
        last_activity_at=epoch(payload.get("lastActivityAt")),
    )
