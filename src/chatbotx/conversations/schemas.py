"""The conversation object: seed 002's `conversation` plus status, a compact contact and the last message."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from chatbotx.contacts.schemas import ContactConversation
from chatbotx.kit.fieldtypes import LONG_TEXT_MAX
from chatbotx.kit.schemas import IdIn, IdStr, InputSchema, OptIdStr, Schema
from chatbotx.messages.schemas import TAG_DESCRIPTION, EmailSubject, FileRefs, MessageTag

BotCategory = Literal["bot", "human", "all"]
# The reference's inbox views, then the conversation's own status.
StatusFilter = Literal[
    "noAdminReply", "unread", "followUp", "archived", "blocked", "open", "pending", "snoozed", "resolved"
]


class ConversationContact(Schema):
    id: IdStr
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    avatar: str | None = None


class LastMessage(Schema):
    id: IdStr
    created_at: dt.datetime
    direction: str = Field(description="incoming or outgoing")
    private: bool = Field(description="An internal note, never sent to the contact")
    sender_type: str = Field(description="bot, agent, contact or system")
    sender_id: OptIdStr = None
    content_type: str
    content: str | None = None
    status: str = Field(description="queued, sent, delivered, read or failed")


class Conversation(ContactConversation):
    """A conversation between a contact and the workspace on one inbox."""

    status: str = Field(description="open, pending, snoozed or resolved")
    snoozed_until: dt.datetime | None = Field(default=None, description="When a snoozed conversation reopens")
    contact: ConversationContact
    last_message: LastMessage | None = Field(default=None, description="The newest message, notes included")


# ---- bodies of the conversation management operations (cross-field rules are checked in the service) ----


def _as_list(value: Any) -> Any:
    # The CLI may pass a single file id or URL where a list is expected.
    if isinstance(value, str | int) and not isinstance(value, bool):
        return [value]
    return value


ConversationStatus = Literal["open", "pending", "snoozed", "resolved"]
MAX_BUTTONS = 10
MAX_QUICK_REPLIES = 13


class ReplyButton(InputSchema):
    """A postback (`payload`) or link (`url`) button; exactly one of the two."""

    title: str = Field(min_length=1, max_length=256)
    payload: str | None = Field(default=None, min_length=1, max_length=1000)
    url: str | None = Field(default=None, min_length=1, max_length=2000, pattern=r"^https?://\S+$")

    @model_validator(mode="after")
    def _one_action(self) -> ReplyButton:
        if (self.payload is None) == (self.url is None):
            raise ValueError("give exactly one of payload or url")
        return self


class QuickReply(InputSchema):
    title: str = Field(min_length=1, max_length=256)
    payload: str | None = Field(
        default=None, min_length=1, max_length=1000, description="Sent back when chosen (default: the title)"
    )


def _finite(value: Any, depth: int = 0) -> bool:
    """No NaN or infinity anywhere (JSON columns cannot store them; PostgreSQL refuses them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > 32:
        return False
    if isinstance(value, dict):
        return all(_finite(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v, depth + 1) for v in value)
    return True


QuickReplyTitle = Annotated[str, Field(min_length=1, max_length=256)]


class ReplyTemplate(InputSchema):
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=1, max_length=20, examples=["en_US"])
    components: list[dict[str, Any]] = Field(
        default_factory=list, max_length=20, description="Template components with their parameters"
    )

    @field_validator("components")
    @classmethod
    def _plain_json(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not _finite(value):
            raise ValueError("numbers must be finite, nesting at most 32 deep")
        return value


class ConversationReply(InputSchema):
    text: str | None = Field(default=None, min_length=1, max_length=LONG_TEXT_MAX, description="Message text")
    files: Annotated[FileRefs | None, BeforeValidator(_as_list)] = Field(
        default=None, description="Up to 10 file ids (uploaded files) or URLs"
    )
    buttons: list[ReplyButton] | None = Field(default=None, min_length=1, max_length=MAX_BUTTONS)
    quick_replies: list[QuickReply | QuickReplyTitle] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_QUICK_REPLIES,
        description="{title, payload?} objects, or plain titles (`--quickReplies Red,Blue`)",
    )
    template: ReplyTemplate | None = Field(
        default=None, description="A pre-approved (WhatsApp) template; alone, without text, files or buttons"
    )
    tag: MessageTag | None = Field(default=None, description=TAG_DESCRIPTION)
    subject: EmailSubject | None = Field(
        default=None,
        description="Email channels: the mail's subject (default: Re: the conversation's first subject); "
        "other channels ignore it",
    )


class TypingIndicator(InputSchema):
    typing: bool = Field(description="true shows the typing indicator to the contact, false hides it")


class ConversationNote(InputSchema):
    text: str = Field(
        min_length=1, max_length=LONG_TEXT_MAX, description="The note (never sent to the contact)"
    )


class Assignment(InputSchema):
    assignee_id: IdIn | None = Field(
        default=None, description="A member id (or that member's user id); null unassigns; omit to keep"
    )
    team_id: IdIn | None = Field(default=None, description="A team id; null clears the team; omit to keep")


class StatusChange(InputSchema):
    status: ConversationStatus
    snoozed_until: dt.datetime | None = Field(
        default=None, description="Required for snoozed, in the future: when it reopens"
    )


class BotSetting(InputSchema):
    bot_enabled: bool = Field(description="Whether the bot answers in this conversation")
    bot_resume_at: dt.datetime | None = Field(
        default=None, description="With botEnabled false: when the bot turns back on (in the future)"
    )
