"""The conversation object: seed 002's `conversation` plus status, a compact contact and the last message."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from chatbotx.contacts.schemas import ContactConversation
from chatbotx.kit.schemas import IdStr, OptIdStr, Schema

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
