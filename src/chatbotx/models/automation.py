"""Flows, keywords, triggers, sequences, broadcasts, templates, AI agents and integrations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chatbotx.kit.db import Base, IdMixin, TimestampMixin


class _WorkspaceOwned:
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"), index=True)


class Flow(IdMixin, TimestampMixin, _WorkspaceOwned, Base):
    __tablename__ = "flow"
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    folder_id: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(default=1)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FlowRun(IdMixin, TimestampMixin, _WorkspaceOwned, Base):
    __tablename__ = "flow_run"
    flow_id: Mapped[int] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id", ondelete="SET NULL"))
    node_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resume_at: Mapped[dt.datetime | None] = mapped_column(index=True)


class Keyword(IdMixin, TimestampMixin, _WorkspaceOwned, Base):
    __tablename__ = "keyword"
    name: Mapped[str] = mapped_column(String(200))
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    match_type: Mapped[str] = mapped_column(String(16), default="is")
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id", ondelete="CASCADE"))
    reply_type: Mapped[str] = mapped_column(String(16), default="text")
    reply_text: Mapped[str | None] = mapped_column(Text)
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("flow.id", ondelete="SET NULL"))
    priority: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    folder_id: Mapped[int | None]


class Trigger(IdMixin, TimestampMixin, _WorkspaceOwned, Base):
    __tablename__ = "trigger"
    name: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(64))
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    folder_id: Mapped[int | None]


class Sequence(IdMixin, TimestampMixin, _WorkspaceOwned, Base):
    __tablename__ = "sequence"
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    folder_id: Mapped[int | None]


class SequenceStep(IdMixin, TimestampMixin, Base):
    __tablename__ = "sequence_step"
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("flow.id", ondelete="SET NULL"))
    delay_value: Mapped[int] = mapped_column(default=0)
    delay_unit: Mapped[str] = mapped_column(String(16), default="days")
    anytime: Mapped[bool] = mapped_column(default=True)
    send_time_start: Mapped[str | None] = mapped_column(String(5))
    send_time_end: Mapped[str | None] = mapped_column(String(5))
    send_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)


class SequenceEnrollment(IdMixin, TimestampMixin, Base):
    __tablename__ = "sequence_enrollment"
    __table_args__ = (UniqueConstraint("sequence_id", "contact_id"),)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    next_step_position: Mapped[int] = mapped_column(default=0)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")


class Broadcast(IdMixin, TimestampMixin, _WorkspaceOwned, Base):
    __tablename__ = "broadcast"
    name: Mapped[str] = mapped_column(String(200))
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id", ondelete="SET NULL"))
    channel: Mapped[str | None] = mapped_column(String(32))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    policy: Mapped[str] = mapped_column(String(32), default="within24h")
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("flow.id", ondelete="SET NULL"))
    template_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("template_message.id", ondelete="SET NULL")
    )
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    scheduled_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    throttle_per_minute: Mapped[int | None]
    total_count: Mapped[int] = mapped_column(default=0)
    sent_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)


class BroadcastRecipient(IdMixin, TimestampMixin, Base):
    __tablename__ = "broadcast_recipient"
    __table_args__ = (UniqueConstraint("broadcast_id", "contact_id"),)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcast.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    message_id: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)


class TemplateMessage(IdMixin, TimestampMixin, _WorkspaceOwned, Base):
    __tablename__ = "template_message"
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id", ondelete="CASCADE"), index=True)
    integration_whatsapp_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16), default="en_US")
    category: Mapped[str] = mapped_column(String(32), default="UTILITY")
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    provider_template_id: Mapped[str | None] = mapped_column(String(100))


class AiAgent(IdMixin, TimestampMixin, _WorkspaceOwned, Base):
    __tablename__ = "ai_agent"
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(100), default="")
    instructions: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Integration(IdMixin, TimestampMixin, _WorkspaceOwned, Base):
    __tablename__ = "integration"
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credentials: Mapped[str | None] = mapped_column(Text)


Index("ix_broadcast_recipient_status", BroadcastRecipient.broadcast_id, BroadcastRecipient.status)
Index("ix_sequence_enrollment_sequence", SequenceEnrollment.sequence_id, SequenceEnrollment.status)
