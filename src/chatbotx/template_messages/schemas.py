"""The template message as the API shows it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from chatbotx.kit.schemas import IdStr, OptIdStr, Schema

TemplateStatus = Literal["APPROVED", "PENDING", "REJECTED"]


class TemplateMessage(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    language: str = Field(description="e.g. en_US")
    category: str = Field(description="MARKETING, UTILITY or AUTHENTICATION")
    status: str = Field(description="APPROVED, PENDING or REJECTED")
    components: list[dict[str, Any]] = Field(description="Header, body, footer and buttons, as the provider")
    inbox_id: OptIdStr = None
    integration_whatsapp_id: str | None = Field(
        default=None, description="The WhatsApp account it belongs to"
    )
    provider_template_id: str | None = None
    workspace_id: IdStr
