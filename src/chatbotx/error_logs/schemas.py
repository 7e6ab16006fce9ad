"""The error log entry as the API shows it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from chatbotx.kit.schemas import IdStr, Schema


class ErrorLog(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    source: str = Field(description="Where it happened, e.g. channel.whatsapp, webhook, flow")
    code: str = Field(description="A stable error code")
    message: str
    data: dict[str, Any] = Field(description="Details: ids involved, provider response")
    workspace_id: IdStr
