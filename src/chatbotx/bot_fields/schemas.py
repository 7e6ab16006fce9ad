from __future__ import annotations

import datetime as dt
from typing import Self

from pydantic import Field, model_validator

from chatbotx.kit.fieldtypes import FieldType
from chatbotx.kit.schemas import IdIn, IdStr, InputSchema, OptIdStr, Schema

# A value as a caller may send it; it is checked against the field's type and stored as text.
FieldValue = str | int | float | bool | None
SET_MANY_MAX = 20
BULK_MAX = 100


class BotField(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    type: FieldType
    value: str | None = Field(default=None, description="The value in its stored text form; null when unset")
    description: str | None = None
    folder_id: OptIdStr = None
    workspace_id: IdStr


class BotFieldCreate(InputSchema):
    name: str = Field(min_length=1, max_length=100, description="Field name, unique in the workspace")
    type: FieldType = Field(description="Value type")
    value: FieldValue = Field(default=None, description="Initial value, checked against the type")
    description: str | None = Field(default=None, max_length=1000)
    folder_id: IdIn | None = Field(default=None, description="Folder id")


class BotFieldValue(InputSchema):
    value: FieldValue = Field(description="New value, checked against the field's type; null unsets it")


class BotFieldSetItem(InputSchema):
    """One field named by `id` or by `name` (exactly one of them)."""

    id: IdIn | None = Field(default=None, description="Bot field id")
    name: str | None = Field(default=None, min_length=1, max_length=100, description="Bot field name")
    value: FieldValue = Field(description="New value; null unsets it")

    @model_validator(mode="after")
    def _one_reference(self) -> Self:
        if (self.id is None) == (self.name is None):
            raise ValueError("give exactly one of 'id' or 'name'")
        return self


class BotFieldsSet(InputSchema):
    fields: list[BotFieldSetItem] = Field(
        min_length=1, max_length=SET_MANY_MAX, description=f"1 to {SET_MANY_MAX} fields, each by id or name"
    )


class BotFieldBulkItem(InputSchema):
    """One field named by `idOrName` (an id, else a name), or by `id` or `name`: exactly one of the three."""

    id_or_name: str | None = Field(
        default=None, min_length=1, max_length=100, description="Bot field id or name"
    )
    id: IdIn | None = Field(default=None, description="Bot field id")
    name: str | None = Field(default=None, min_length=1, max_length=100, description="Bot field name")
    value: FieldValue = Field(description="New value; null unsets it")

    @model_validator(mode="after")
    def _one_reference(self) -> Self:
        given = [v for v in (self.id_or_name, self.id, self.name) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'idOrName', 'id' or 'name'")
        return self


class BotFieldsBulkUpdate(InputSchema):
    fields: list[BotFieldBulkItem] = Field(
        min_length=1, max_length=BULK_MAX, description=f"1 to {BULK_MAX} fields, each by idOrName, id or name"
    )
