"""The value types of custom fields and bot fields, and how a value is checked and stored (as text)."""

from __future__ import annotations

import datetime as dt
import typing
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from chatbotx.kit.errors import invalid_field
from chatbotx.kit.normalize import normalize_email, normalize_phone

FieldType = Literal["shortText", "longText", "email", "phoneNumber", "number", "date", "datetime", "boolean"]
FIELD_TYPES: tuple[str, ...] = typing.get_args(FieldType)
SHORT_TEXT_MAX = 255
LONG_TEXT_MAX = 10_000
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def coerce_value(field_type: str, value: Any, *, field: str = "value") -> str | None:
    """The stored text form of `value` for a field of `field_type`, or a 422 naming `field`. None clears."""
    if value is None:
        return None
    if field_type in ("shortText", "longText"):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise invalid_field(field, "must be text")
        text = str(value)
        limit = SHORT_TEXT_MAX if field_type == "shortText" else LONG_TEXT_MAX
        if len(text) > limit:
            raise invalid_field(field, f"must be at most {limit} characters")
        return text
    if field_type == "email":
        if not isinstance(value, str):
            raise invalid_field(field, "must be an email address")
        return normalize_email(value, field=field)
    if field_type == "phoneNumber":
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise invalid_field(field, "must be a phone number")
        return normalize_phone(str(value), field=field)
    if field_type == "number":
        if isinstance(value, bool):
            raise invalid_field(field, "must be a number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise invalid_field(field, "must be a number") from None
        if not number.is_finite():
            raise invalid_field(field, "must be a finite number")
        return format(number.normalize(), "f") if number != number.to_integral() else str(int(number))
    if field_type == "boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        text = str(value).strip().lower()
        if text in _TRUE:
            return "true"
        if text in _FALSE:
            return "false"
        raise invalid_field(field, "must be true or false")
    if field_type == "date":
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise invalid_field(field, "must be a date YYYY-MM-DD") from None
    if field_type == "datetime":
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise invalid_field(field, "must be an ISO 8601 date-time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    raise invalid_field("type", f"unknown field type {field_type!r}")
