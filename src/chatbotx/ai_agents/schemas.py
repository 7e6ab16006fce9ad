"""The AI agent as the API shows it (settings without anything that looks like a secret)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, field_validator

from chatbotx.kit.schemas import IdStr, Schema
from chatbotx.lists.redact import redact


class AIAgent(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    description: str | None = None
    model: str = Field(description="The model it answers with")
    instructions: str | None = Field(default=None, description="Its system prompt")
    active: bool
    settings: dict[str, Any] = Field(description="Model settings; keys that look like secrets are left out")
    workspace_id: IdStr

    @field_validator("settings", mode="after")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        return redact(value)
