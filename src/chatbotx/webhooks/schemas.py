"""The webhook endpoint as the API shows it: no secret, ever."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from chatbotx.kit.schemas import IdStr, Schema


class Webhook(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    url: str
    events: list[str] = Field(description="Event types sent to it; empty = all")
    active: bool
    workspace_id: IdStr
