"""Tags, custom fields (per contact) and bot fields (global to the workspace)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chatbotx.kit.db import Base, IdMixin, TimestampMixin


class Tag(IdMixin, TimestampMixin, Base):
    __tablename__ = "tag"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    folder_id: Mapped[int | None]
    deleted_at: Mapped[dt.datetime | None]


class CustomField(IdMixin, TimestampMixin, Base):
    __tablename__ = "custom_field"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    folder_id: Mapped[int | None]


class BotField(IdMixin, TimestampMixin, Base):
    __tablename__ = "bot_field"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    folder_id: Mapped[int | None]
