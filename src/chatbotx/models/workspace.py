"""Workspaces, the people in them, their API tokens, teams, inboxes (channels) and saved replies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chatbotx.kit.db import Base, IdMixin, TimestampMixin


class Workspace(IdMixin, TimestampMixin, Base):
    __tablename__ = "workspace"
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "user_account"
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), unique=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    image: Mapped[str | None] = mapped_column(String(2000))
    is_anonymous: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str | None] = mapped_column(String(200))


class Member(IdMixin, TimestampMixin, Base):
    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="agent")


class ApiToken(IdMixin, TimestampMixin, Base):
    __tablename__ = "api_token"
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class Team(IdMixin, TimestampMixin, Base):
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)


class TeamMember(Base):
    __tablename__ = "team_member"
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Inbox(IdMixin, TimestampMixin, Base):
    """A connected channel: where messages arrive and leave. Credentials are encrypted at rest."""

    __tablename__ = "inbox"
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)  # why it needs attention (expired token, ...)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credentials: Mapped[str | None] = mapped_column(Text)
    # The inbox's public identifier, for channels the public reaches directly (the webchat widget's
    # `inbox_identifier` in /public/api/v1/inboxes/{identifier}/...); random, unguessable, never an id.
    public_token: Mapped[str | None] = mapped_column(String(64), unique=True)


class ChannelPoll(Base):
    """Polling state of an inbox whose provider is polled instead of calling a webhook (email over IMAP).

    `leased_until` makes one poller at a time own the inbox (several workers in the scale-out mode);
    `state` is the channel's cursor (IMAP UIDVALIDITY and last UID seen).
    """

    __tablename__ = "channel_poll"
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inbox.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    next_poll_at: Mapped[dt.datetime | None]
    leased_until: Mapped[dt.datetime | None]
    last_polled_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(default=0)


class SavedReply(IdMixin, TimestampMixin, Base):
    __tablename__ = "saved_reply"
    __table_args__ = (UniqueConstraint("workspace_id", "shortcut"),)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    shortcut: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)


Index("ix_inbox_ws_channel", Inbox.workspace_id, Inbox.channel)
