"""The trigger rule as the API shows it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from chatbotx.kit.schemas import IdStr, OptIdStr, Schema


class Trigger(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    event: str = Field(description="The event that fires it, e.g. tagApplied, newContact")
    conditions: dict[str, Any] = Field(description="A contactFilter-like condition group")
    actions: list[dict[str, Any]] = Field(description="What it does, in order")
    active: bool
    folder_id: OptIdStr = None
    workspace_id: IdStr
