"""The webchat Client API's shapes: Chatwoot's public API (snake_case), ids as strings.

Chatwoot's ids are JSON numbers; ours exceed 2^53 (JavaScript's exact integers), so every id here is a string.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatbotx.contact_fields.schemas import FieldValue
from chatbotx.kit.schemas import _contains_nul

MAX_CONTENT = 5000
MAX_CUSTOM_ATTRIBUTES = 20


class PublicInput(BaseModel):
    """A body of the public API: snake_case keys as Chatwoot's clients send them, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if _contains_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data


class ContactCreate(PublicInput):
    identifier: str | None = Field(default=None, min_length=1, max_length=255)
    identifier_hash: str | None = Field(default=None, min_length=1, max_length=128)
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    phone_number: str | None = Field(default=None, max_length=32)
    avatar_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")
    custom_attributes: dict[str, FieldValue] | None = None

    @field_validator("custom_attributes")
    @classmethod
    def _few(cls, value: dict[str, FieldValue] | None) -> dict[str, FieldValue] | None:
        if value is not None and len(value) > MAX_CUSTOM_ATTRIBUTES:
            raise ValueError(f"at most {MAX_CUSTOM_ATTRIBUTES} attributes")
        return value


class ContactUpdate(PublicInput):
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    phone_number: str | None = Field(default=None, max_length=32)
    avatar_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")
    identifier: str | None = Field(default=None, min_length=1, max_length=255)
    identifier_hash: str | None = Field(default=None, min_length=1, max_length=128)
    custom_attributes: dict[str, FieldValue] | None = None


class ConversationCreate(PublicInput):
    custom_attributes: dict[str, FieldValue] | None = None


class MessageCreate(PublicInput):
    content: str = Field(min_length=1, max_length=MAX_CONTENT)
    echo_id: str | None = Field(default=None, min_length=1, max_length=100)


class TypingToggle(PublicInput):
    typing_status: Literal["on", "off"]


class WidgetConfig(BaseModel):
    identifier: str
    name: str
    website_url: str = Field(serialization_alias="websiteUrl")
    widget_color: str = Field(serialization_alias="widgetColor")
    greeting: str
    hmac_mandatory: bool = Field(serialization_alias="hmacMandatory")


class PublicContact(BaseModel):
    source_id: str
    pubsub_token: str
    id: str
    name: str | None
    email: str | None
    phone_number: str | None = None
    identifier_verified: bool = False


class PublicSender(BaseModel):
    id: str | None
    type: Literal["contact", "user", "agent_bot"]
    name: str | None = None


class PublicMessage(BaseModel):
    id: str
    content: str | None
    message_type: int = Field(description="0 incoming, 1 outgoing, 2 activity, 3 template")
    content_type: str
    content_attributes: dict[str, Any]
    created_at: int = Field(description="Epoch seconds")
    conversation_id: str
    attachments: list[dict[str, Any]]
    sender: PublicSender | None
    echo_id: str | None = None
    status: str


class PublicConversation(BaseModel):
    id: str
    inbox_id: str | None
    status: str
    contact_last_seen_at: int = Field(description="Epoch seconds; 0 when never")
    agent_last_seen_at: int = Field(description="Epoch seconds; 0 when never")
    created_at: int
    last_activity_at: int
    messages: list[PublicMessage] = Field(default_factory=list)
