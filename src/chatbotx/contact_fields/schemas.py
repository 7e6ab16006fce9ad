"""A contact's custom field values, and the bodies that set them."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from chatbotx.kit.schemas import IdIn, IdStr, InputSchema, Schema

MAX_FIELDS_PER_SET = 20

# What a caller may send as a value; the custom field's type decides whether it fits (None clears).
FieldValue = str | int | float | bool | None


class ContactCustomFieldValue(Schema):
    id: IdStr
    created_at: dt.datetime
    updated_at: dt.datetime
    value: str | None = Field(description="The value in its stored text form")
    contact_id: IdStr
    custom_field_id: IdStr
    name: str = Field(description="The custom field's name (for convenience)")
    type: str = Field(description="The custom field's type (for convenience)")


class ContactCustomFieldSet(InputSchema):
    value: str | int | float | bool = Field(
        description="The new value, checked against the field's type (DELETE the field to clear it)"
    )


class FieldAssignment(InputSchema):
    custom_field_id: IdIn | None = Field(default=None, description="The custom field's id")
    id: IdIn | None = Field(default=None, description="Same as customFieldId")
    name: str | None = Field(default=None, min_length=1, max_length=100, description="The field's exact name")
    value: FieldValue = Field(description="The new value; null clears it")

    @model_validator(mode="after")
    def _names_a_field(self) -> FieldAssignment:
        if self.custom_field_id is None and self.id is None and self.name is None:
            raise ValueError("give customFieldId, id or name")
        return self

    @property
    def ref(self) -> int | str:
        """The field this assignment names: customFieldId, else id, else name."""
        if self.custom_field_id is not None:
            return self.custom_field_id
        if self.id is not None:
            return self.id
        assert self.name is not None
        return self.name


class ContactCustomFieldsSet(InputSchema):
    fields: list[FieldAssignment] = Field(
        min_length=1, max_length=MAX_FIELDS_PER_SET, description="Up to 20 values to set (null clears)"
    )
