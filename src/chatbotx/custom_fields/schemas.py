from __future__ import annotations

import datetime as dt

from pydantic import Field

from chatbotx.kit.fieldtypes import FieldType
from chatbotx.kit.schemas import IdIn, IdStr, InputSchema, OptIdStr, Schema


class CustomField(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    type: FieldType
    description: str | None = None
    folder_id: OptIdStr = None
    workspace_id: IdStr


class CustomFieldCreate(InputSchema):
    name: str = Field(min_length=1, max_length=100, description="Field name, unique in the workspace")
    type: FieldType = Field(description="Value type")
    description: str | None = Field(default=None, max_length=1000)
    folder_id: IdIn | None = Field(default=None, description="Folder id")


class CustomFieldUpdate(InputSchema):
    name: str | None = Field(default=None, min_length=1, max_length=100, description="New name")
    type: FieldType | None = Field(
        default=None, description="New value type; refused while any contact has a value for the field"
    )
    description: str | None = Field(default=None, max_length=1000)
    folder_id: IdIn | None = Field(default=None, description="Folder id")
