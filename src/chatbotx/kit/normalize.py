"""Normalizing what people type: phone numbers to E.164 (phonenumbers), email addresses (email-validator)."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from chatbotx.kit.errors import invalid_field


def normalize_phone(value: str, *, field: str = "phoneNumber", region: str | None = None) -> str:
    """`value` as E.164 (+15551234567); without a leading +, read in `region` or as international digits."""
    text = value.strip()
    if not text:
        raise invalid_field(field, "must not be empty")
    try:
        if not text.startswith("+") and region is None:
            digits = "".join(ch for ch in text if ch.isdigit())
            text = "+" + digits.lstrip("0") if digits else text
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise invalid_field(field, f"{value!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise invalid_field(field, f"{value!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str, *, field: str = "email") -> str:
    """A syntactically valid address, its domain lower-cased (no DNS lookup)."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise invalid_field(field, str(exc)) from None
    return result.normalized
