"""A contact's messages as the API shows them, and the bodies of sending to a contact."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from chatbotx.kit.fieldtypes import LONG_TEXT_MAX
from chatbotx.kit.schemas import IdIn, IdStr, InputSchema, OptIdStr, Schema

Direction = Literal["incoming", "outgoing"]
SenderType = Literal["bot", "agent", "contact", "system"]
MessageStatus = Literal["queued", "sent", "delivered", "read", "failed"]
MAX_FILES = 10


class Message(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    conversation_id: IdStr
    contact_id: IdStr
    inbox_id: OptIdStr = None
    direction: Direction
    private: bool = Field(description="An internal note, never sent to the contact")
    sender_type: SenderType
    sender_id: OptIdStr = None
    content_type: str
    content: str | None = None
    attachments: list[dict[str, Any]]
    content_attributes: dict[str, Any]
    status: MessageStatus
    provider_message_id: str | None = None
    error: str | None = None


def _as_list(value: Any) -> Any:
    # The CLI may pass a single file id or URL where a list is expected.
    if isinstance(value, str | int) and not isinstance(value, bool):
        return [value]
    return value


def _file_ref(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


FileRef = Annotated[str, BeforeValidator(_file_ref), Field(min_length=1, max_length=2000)]
FileRefs = Annotated[list[FileRef], Field(max_length=MAX_FILES)]


# One line of a mail header (RFC 5322 allows 998 characters a line); no line breaks (header injection).
EmailSubject = Annotated[str, Field(min_length=1, max_length=900, pattern=r"^[^\r\n]*$")]

# Meta's message tags (Messenger, Instagram): dispatcher.policy checks the channel and the window they open.
MessageTag = Literal["HUMAN_AGENT", "ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"]
TAG_DESCRIPTION = (
    "Messenger/Instagram message tag: HUMAN_AGENT sends a person's reply up to 7 days after the contact's "
    "last message; the others (non-promotional updates) send outside the 24-hour window"
)


class MessageSend(InputSchema):
    text: str | None = Field(default=None, min_length=1, max_length=LONG_TEXT_MAX, description="Message text")
    files: Annotated[FileRefs | None, BeforeValidator(_as_list)] = Field(
        default=None, description="Up to 10 file ids (uploaded files) or URLs"
    )
    flow_id: IdIn | None = Field(default=None, description="Send this flow instead of text or files")
    node_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="Start the flow at this node"
    )
    inbox_id: IdIn | None = Field(
        default=None,
        description="The inbox to send on; default: the inbox of the contact's latest conversation, "
        "else the contact's only inbox",
    )
    tag: MessageTag | None = Field(default=None, description=TAG_DESCRIPTION)
    subject: EmailSubject | None = Field(
        default=None,
        description="Email channels: the mail's subject (default: Re: the conversation's first subject, or "
        "'New message'); other channels ignore it",
    )


class FlowSend(InputSchema):
    flow_id: IdIn = Field(description="The flow to send")
    inbox_id: IdIn | None = Field(default=None, description="The inbox to send on (default as for messages)")


class AutoReplyTrigger(InputSchema):
    keyword: str = Field(min_length=1, max_length=1000, description="Text matched against the keywords")
    inbox_id: IdIn | None = Field(default=None, description="The inbox to reply on (default as for messages)")
