"""The integration as the API shows it: no credentials, and a config without secret-looking keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, field_validator

from chatbotx.kit.schemas import IdStr, Schema
from chatbotx.lists.redact import redact


class Integration(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    kind: str = Field(description="The service, e.g. openai, googleSheets, whatsappCloud")
    status: str = Field(description="active, inactive or error")
    config: dict[str, Any] = Field(
        description="Non-secret settings; keys that look like secrets are left out"
    )
    credentials_set: bool = Field(description="Whether credentials are stored (they are never returned)")
    workspace_id: IdStr

    @field_validator("config", mode="after")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        return redact(value)
