"""kit.normalize: phone numbers to E.164 and email addresses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbotx.kit.errors import InvalidData
from chatbotx.kit.normalize import normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 650-253-0000", None, "+16502530000"),
        ("+84 912 345 678", None, "+84912345678"),
        ("84912345678", None, "+84912345678"),
        ("0912 345 678", "VN", "+84912345678"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("  +44 20 7946 0958 ", None, "+442079460958"),
    ],
)
def test_normalize_phone(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, region=region) == expected


@pytest.mark.parametrize("raw", ["", "   ", "abc", "+1", "+999 123", "12"])
def test_bad_phone_is_a_422_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidData) as info:
        normalize_phone(raw, field="phone")
    assert info.value.data is not None
    assert info.value.data["errors"][0]["field"] == "phone"


@given(st.text(max_size=25))
def test_normalize_phone_raises_only_invalid_data(raw: str) -> None:
    try:
        result = normalize_phone(raw)
    except InvalidData:
        return
    assert result.startswith("+") and result[1:].isdigit()
    assert normalize_phone(result) == result  # idempotent


def test_normalize_email() -> None:
    assert normalize_email("Foo.Bar@EXAMPLE.com") == "Foo.Bar@example.com"
    assert normalize_email("  a@b.io ") == "a@b.io"


@pytest.mark.parametrize("raw", ["", "plain", "a@", "@b.com", "a b@c.com", "a@b@c.com"])
def test_bad_email_is_a_422_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidData) as info:
        normalize_email(raw, field="email")
    assert info.value.data is not None
    assert info.value.data["errors"][0]["field"] == "email"


@given(st.emails())
def test_valid_emails_normalize_idempotently(email: str) -> None:
    try:
        once = normalize_email(email)
    except InvalidData:
        return  # emails() may give addresses email-validator refuses (special-use domains)
    assert normalize_email(once) == once
