"""Event payloads the inbound pipeline publishes (camelCase, like the API's objects)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from chatbotx.kit.schemas import IdStr, OptIdStr, Schema


class ConversationEvent(Schema):
    """The conversation fields realtime clients need to update a list row (fetch the rest with its id)."""

    id: IdStr
    workspace_id: IdStr
    contact_id: IdStr
    inbox_id: OptIdStr = None
    status: str = Field(description="open, pending, snoozed or resolved")
    previous_status: str | None = Field(default=None, description="Set when the status changed")
    snoozed_until: dt.datetime | None = None
    bot_enabled: bool
    assigned_user_id: OptIdStr = None
    assigned_team_id: OptIdStr = None
    last_activity_at: dt.datetime
    contact_replied_at: dt.datetime | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
