"""Contact schemas: the full contact object of seed 002 and the create/update bodies."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any, Literal

from pydantic import Field, field_validator

from chatbotx.kit.schemas import IdStr, InputSchema, OptIdStr, Schema
from chatbotx.members.schemas import User
from chatbotx.tags.schemas import Tag

Gender = Literal["male", "female", "other"]


class ContactFieldValue(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    value: str | None = None
    contact_id: IdStr
    custom_field_id: IdStr


class ContactNote(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    text: str
    contact_id: IdStr
    created_by_id: OptIdStr = None


class InboxSummary(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    channel: str
    source_id: str | None = None
    workspace_id: IdStr
    status: str


class ContactInbox(Schema):
    id: IdStr
    contact_id: IdStr
    inbox_id: IdStr
    channel: str
    inbox: InboxSummary


class TeamSummary(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    workspace_id: IdStr
    name: str


class ContactConversation(Schema):
    """The contact's latest conversation (by lastActivityAt)."""

    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    bot_enabled: bool
    bot_resume_at: dt.datetime | None = None
    archived_at: dt.datetime | None = None
    additional_attributes: dict[str, Any] | None = None
    contact_last_read_at: dt.datetime | None = None
    agent_last_read_at: dt.datetime | None = None
    last_activity_at: dt.datetime
    followed: bool
    workspace_id: IdStr
    contact_id: IdStr
    admin_replied_at: dt.datetime | None = None
    contact_replied_at: dt.datetime | None = None
    ai_context_last_message_id: OptIdStr = None
    assigned_user_id: OptIdStr = None
    assigned_inbox_team_id: OptIdStr = None
    assigned_user: User | None = None
    assigned_inbox_team: TeamSummary | None = None
    inbox: InboxSummary | None = None


class Contact(Schema):
    """A contact with its custom field values, tags, notes, channel identities and latest conversation."""

    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    avatar: str | None = None
    phone_number: str | None = None
    email: str | None = None
    email_verified: bool
    email_opt_in: bool
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    gender: str | None = None
    last_read_at: dt.datetime | None = None
    ref: str | None = None
    source: str | None = None
    country: str | None = None
    state: str | None = None
    city: str | None = None
    location: str | None = None
    locale: str | None = None
    timezone: str | None = None
    subscribed_at: dt.datetime | None = None
    broadcast_subscribed_at: dt.datetime | None = None
    blocked_at: dt.datetime | None = None
    workspace_id: IdStr
    contact_custom_fields: list[ContactFieldValue]
    tags: list[Tag]
    contact_notes: list[ContactNote]
    contact_inboxes: list[ContactInbox]
    conversation: ContactConversation | None = None


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class _ContactFields(InputSchema):
    """Fields shared by create, update and upsert; all optional (None clears on update)."""

    first_name: str | None = Field(default=None, max_length=200, description="First name")
    last_name: str | None = Field(default=None, max_length=200, description="Last name")
    email: str | None = Field(
        default=None, max_length=320, description="Email address, unique in the workspace"
    )
    phone_number: str | None = Field(
        default=None, max_length=40, description="Phone number, stored as E.164; unique in the workspace"
    )
    gender: Gender | None = Field(default=None, description="male, female or other")
    avatar: str | None = Field(default=None, max_length=2000, description="Avatar image URL")
    locale: str | None = Field(default=None, max_length=32, description="Locale, e.g. en or vi_VN")
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA time zone, e.g. Asia/Ho_Chi_Minh"
    )
    country: str | None = Field(
        default=None, max_length=100, description="Country, preferably an ISO 3166 alpha-2 code (VN, US)"
    )
    state: str | None = Field(default=None, max_length=100)
    city: str | None = Field(default=None, max_length=100)
    location: str | None = Field(default=None, max_length=200)
    ref: str | None = Field(default=None, max_length=200, description="Your own reference for the contact")
    source: str | None = Field(
        default=None, max_length=64, description="Where the contact came from, e.g. api"
    )
    email_opt_in: bool | None = Field(default=None, description="The contact accepts email")
    email_verified: bool | None = Field(default=None, description="The email address is verified")
    subscribed: bool | None = Field(default=None, description="Subscribed (sets or clears subscribedAt)")
    subscribed_to_broadcast: bool | None = Field(
        default=None, description="Receives broadcasts (sets or clears broadcastSubscribedAt)"
    )

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value and value not in _timezones():
            raise ValueError("must be an IANA time zone such as Europe/Paris")
        return value or None

    @field_validator("country")
    @classmethod
    def _country_code(cls, value: str | None) -> str | None:
        # Two letters are an ISO code: store them upper-case so the continent can be derived.
        if value and len(value) == 2 and value.isalpha():
            return value.upper()
        return value or None


class ContactCreate(_ContactFields):
    """A new contact; subscribed and subscribedToBroadcast default to true."""


class ContactUpdate(_ContactFields):
    """A partial update: only the fields sent change; null clears a field."""


class ContactUpsert(_ContactFields):
    """Fields to set on the contact named by the identifier (created when missing)."""


class ContactNoteCreate(InputSchema):
    text: str = Field(min_length=1, max_length=10_000, description="The note text")

    @field_validator("text")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value
