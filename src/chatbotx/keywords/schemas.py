"""The keyword rule as the API shows it."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from chatbotx.kit.schemas import IdStr, OptIdStr, Schema


class Keyword(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    phrases: list[str] = Field(description="What the contact's message is matched against")
    match_type: str = Field(description="is, contains or startsWith")
    inbox_id: OptIdStr = Field(default=None, description="Only on this inbox; null = every inbox")
    reply_type: str = Field(description="text or flow")
    reply_text: str | None = None
    flow_id: OptIdStr = None
    priority: int = Field(description="Higher is checked first")
    active: bool
    folder_id: OptIdStr = None
    workspace_id: IdStr
