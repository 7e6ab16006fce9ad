"""Flow shapes: the list item, the full flow with its definition, and the create/update bodies."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from chatbotx.kit.schemas import IdIn, IdStr, InputSchema, OptIdStr, Schema

FlowStatus = Literal["draft", "published"]


class Flow(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    description: str | None = None
    folder_id: OptIdStr = None
    status: str = Field(description="draft or published")
    version: int = Field(description="Starts at 1; goes up each time the definition changes")
    workspace_id: IdStr


class FlowDetail(Flow):
    definition: dict[str, Any] = Field(description="The flow graph (JSON object)")


class FlowCreate(InputSchema):
    name: str = Field(min_length=1, max_length=200, description="Flow name, unique in the workspace")
    description: str | None = Field(default=None, max_length=5000)
    folder_id: IdIn | None = Field(default=None, description="Folder id")
    status: FlowStatus = Field(default="draft")
    definition: dict[str, Any] = Field(default_factory=dict, description="The flow graph (JSON object)")


class FlowUpdate(InputSchema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    folder_id: IdIn | None = Field(default=None, description="Folder id (null to clear)")
    status: FlowStatus | None = None
    definition: dict[str, Any] | None = Field(default=None, description="Replaces the definition")
