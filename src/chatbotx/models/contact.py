"""Contacts and what hangs off them: their channel identities, tags, custom field values and notes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from chatbotx.kit.db import Base, IdMixin, TimestampMixin, utcnow


class Contact(IdMixin, TimestampMixin, Base):
    __tablename__ = "contact"
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    avatar: Mapped[str | None] = mapped_column(String(2000))
    phone_number: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(default=False)
    email_opt_in: Mapped[bool] = mapped_column(default=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    full_name: Mapped[str | None] = mapped_column(String(401))
    gender: Mapped[str | None] = mapped_column(String(16))
    last_read_at: Mapped[dt.datetime | None]
    ref: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))
    subscribed_at: Mapped[dt.datetime | None]
    broadcast_subscribed_at: Mapped[dt.datetime | None]
    blocked_at: Mapped[dt.datetime | None]
    archived_at: Mapped[dt.datetime | None]
    last_interaction_at: Mapped[dt.datetime | None]


# id breaks ties of created_at (bulk imports share one timestamp): the default list order is index-only.
Index("ix_contact_ws_created", Contact.workspace_id, Contact.created_at, Contact.id)
Index("ix_contact_ws_email", Contact.workspace_id, Contact.email)
Index("ix_contact_ws_phone", Contact.workspace_id, Contact.phone_number)
Index("ix_contact_ws_first_name", Contact.workspace_id, Contact.first_name)
Index("ix_contact_ws_last_name", Contact.workspace_id, Contact.last_name)
Index("ix_contact_ws_interaction", Contact.workspace_id, Contact.last_interaction_at)


class ContactInbox(IdMixin, Base):
    """A contact on one inbox, with the channel's own id for them (chat id, wa_id, PSID, address...)."""

    __tablename__ = "contact_inbox"
    __table_args__ = (UniqueConstraint("inbox_id", "source_id"),)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inbox.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The contact's last message on this inbox: the 24-hour customer-service window runs from here.
    last_inbound_at: Mapped[dt.datetime | None]
    # Set when the provider says the contact cannot be reached here (blocked the bot, invalid number).
    unreachable_at: Mapped[dt.datetime | None]
    unreachable_reason: Mapped[str | None] = mapped_column(String(64))
    # Webchat: the token a visitor's browser subscribes to its own realtime events with (Chatwoot's
    # pubsub_token), and whether the site vouched for the visitor's identity with an HMAC of its user id.
    pubsub_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    hmac_verified: Mapped[bool] = mapped_column(default=False, server_default=false())


class ContactTag(Base):
    __tablename__ = "contact_tag"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ContactCustomField(IdMixin, TimestampMixin, Base):
    __tablename__ = "contact_custom_field"
    __table_args__ = (UniqueConstraint("contact_id", "custom_field_id"),)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    custom_field_id: Mapped[int] = mapped_column(
        ForeignKey("custom_field.id", ondelete="CASCADE"), index=True
    )
    value: Mapped[str | None] = mapped_column(Text)


Index("ix_contact_custom_field_field_value", ContactCustomField.custom_field_id, ContactCustomField.value)


class ContactNote(IdMixin, TimestampMixin, Base):
    __tablename__ = "contact_note"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
