from __future__ import annotations

import datetime as dt

from pydantic import Field

from chatbotx.kit.schemas import IdStr, InputSchema, Schema

SHORTCUT_PATTERN = r"^\S+$"
TEXT_MAX = 10_000


class SavedReply(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    shortcut: str
    text: str
    workspace_id: IdStr


class SavedReplyCreate(InputSchema):
    shortcut: str = Field(
        min_length=1,
        max_length=100,
        pattern=SHORTCUT_PATTERN,
        description="Unique in the workspace, no spaces",
    )
    text: str = Field(min_length=1, max_length=TEXT_MAX, description="The reply text")


class SavedReplyUpdate(InputSchema):
    shortcut: str | None = Field(default=None, min_length=1, max_length=100, pattern=SHORTCUT_PATTERN)
    text: str | None = Field(default=None, min_length=1, max_length=TEXT_MAX)
