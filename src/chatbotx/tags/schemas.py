from __future__ import annotations

import datetime as dt

from pydantic import Field

from chatbotx.kit.schemas import IdIn, IdStr, InputSchema, OptIdStr, Schema


class Tag(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    deleted_at: dt.datetime | None = None
    folder_id: OptIdStr = None
    workspace_id: IdStr


class TagCreate(InputSchema):
    name: str = Field(min_length=1, max_length=100, description="Tag name, unique in the workspace")
    folder_id: IdIn | None = Field(default=None, description="Folder id")


class TagUpdate(InputSchema):
    name: str | None = Field(default=None, min_length=1, max_length=100, description="New tag name")
    folder_id: IdIn | None = Field(default=None, description="Folder id")
