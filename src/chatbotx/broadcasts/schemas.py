"""The broadcast as the API shows it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from chatbotx.kit.schemas import IdStr, OptIdStr, Schema


class Broadcast(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    status: str = Field(description="draft, scheduled, running, paused, completed, cancelled or failed")
    inbox_id: OptIdStr = Field(default=None, description="The inbox it is sent from")
    channel: str | None = None
    audience: dict[str, Any] = Field(description="A contactFilter; empty = every contact")
    policy: str = Field(description="within24h (active contacts only) or template (outside the window)")
    flow_id: OptIdStr = None
    template_message_id: OptIdStr = None
    content: dict[str, Any] = Field(description="The message, when it sends no flow or template")
    scheduled_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    throttle_per_minute: int | None = Field(default=None, description="Messages per minute at most")
    total_count: int = Field(description="Recipients planned")
    sent_count: int
    failed_count: int
    workspace_id: IdStr
