"""Conversations between a contact and the workspace on one inbox, and their messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chatbotx.kit.db import Base, IdMixin, TimestampMixin, utcnow


class Conversation(IdMixin, TimestampMixin, Base):
    __tablename__ = "conversation"
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    snoozed_until: Mapped[dt.datetime | None]
    bot_enabled: Mapped[bool] = mapped_column(default=True)
    bot_resume_at: Mapped[dt.datetime | None]
    archived_at: Mapped[dt.datetime | None]
    additional_attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    contact_last_read_at: Mapped[dt.datetime | None]
    agent_last_read_at: Mapped[dt.datetime | None]
    last_activity_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    followed: Mapped[bool] = mapped_column(default=False)
    admin_replied_at: Mapped[dt.datetime | None]
    contact_replied_at: Mapped[dt.datetime | None]
    ai_context_last_message_id: Mapped[int | None]
    assigned_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    assigned_team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    transferred_to_human_at: Mapped[dt.datetime | None]


Index("ix_conversation_ws_activity", Conversation.workspace_id, Conversation.last_activity_at)
Index("ix_conversation_contact_activity", Conversation.contact_id, Conversation.last_activity_at)
# For the periodic wake-ups: snoozed conversations whose time has come, bots whose pause has ended.
Index("ix_conversation_status_snoozed_until", Conversation.status, Conversation.snoozed_until)
Index("ix_conversation_bot_resume", Conversation.bot_enabled, Conversation.bot_resume_at)


class Message(IdMixin, TimestampMixin, Base):
    __tablename__ = "message"
    __table_args__ = (UniqueConstraint("inbox_id", "provider_message_id"),)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(16))
    private: Mapped[bool] = mapped_column(default=False)
    sender_type: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[int | None]
    content_type: Mapped[str] = mapped_column(String(32), default="text")
    content: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    content_attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))  # ours (channels.base), stable
    next_attempt_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    # The dispatcher's claim: another dispatcher may take the row only after this passes (crash = retry).
    leased_until: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    read_at: Mapped[dt.datetime | None]


Index("ix_message_conversation_id", Message.conversation_id, Message.id)
Index("ix_message_contact_id", Message.contact_id, Message.id)
Index("ix_message_status_due", Message.status, Message.next_attempt_at)
