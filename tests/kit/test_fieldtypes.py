"""kit.fieldtypes.coerce_value: the stored text form of a typed custom/bot field value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbotx.kit.errors import InvalidData
from chatbotx.kit.fieldtypes import FIELD_TYPES, LONG_TEXT_MAX, SHORT_TEXT_MAX, coerce_value

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _field_of(exc: InvalidData) -> str:
    assert exc.data is not None
    return str(exc.data["errors"][0]["field"])


@pytest.mark.parametrize("field_type", FIELD_TYPES)
def test_none_clears_for_every_type(field_type: str) -> None:
    assert coerce_value(field_type, None) is None


@given(st.sampled_from(FIELD_TYPES), JSONISH)
def test_any_value_is_stored_text_or_a_422_naming_the_field(field_type: str, value: Any) -> None:
    try:
        stored = coerce_value(field_type, value, field="fields.0.value")
    except InvalidData as exc:
        assert _field_of(exc) == "fields.0.value"
        return
    assert stored is None or isinstance(stored, str)


@given(st.sampled_from(FIELD_TYPES), JSONISH)
def test_coercion_is_idempotent(field_type: str, value: Any) -> None:
    try:
        stored = coerce_value(field_type, value)
    except InvalidData:
        return
    assert coerce_value(field_type, stored) == stored


@given(st.text(max_size=SHORT_TEXT_MAX))
def test_short_text_keeps_text(text: str) -> None:
    assert coerce_value("shortText", text) == text


def test_text_limits() -> None:
    assert coerce_value("shortText", 12) == "12"
    with pytest.raises(InvalidData):
        coerce_value("shortText", "x" * (SHORT_TEXT_MAX + 1))
    assert coerce_value("longText", "x" * LONG_TEXT_MAX) == "x" * LONG_TEXT_MAX
    with pytest.raises(InvalidData):
        coerce_value("longText", "x" * (LONG_TEXT_MAX + 1))
    for bad in (True, [1], {"a": 1}):
        with pytest.raises(InvalidData):
            coerce_value("shortText", bad)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12))
def test_number_keeps_the_value(number: Decimal) -> None:
    stored = coerce_value("number", str(number))
    assert stored is not None
    assert Decimal(stored) == number
    assert "E" not in stored.upper()


@given(st.integers(min_value=-(2**53), max_value=2**53))
def test_integers_stay_integers(number: int) -> None:
    assert coerce_value("number", number) == str(number)


def test_number_refuses_non_numbers() -> None:
    for bad in ("abc", "", "NaN", "Infinity", True, [1]):
        with pytest.raises(InvalidData):
            coerce_value("number", bad)
    assert coerce_value("number", "1.50") == "1.5"
    assert coerce_value("number", " 3.0 ") == "3"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "true"), (False, "false"), ("yes", "true"), ("OFF", "false"), ("1", "true"), (0, "false")],
)
def test_boolean(value: Any, expected: str) -> None:
    assert coerce_value("boolean", value) == expected


def test_boolean_refuses_other_text() -> None:
    with pytest.raises(InvalidData):
        coerce_value("boolean", "maybe")


@given(st.dates())
def test_date_round_trip(day: dt.date) -> None:
    assert coerce_value("date", day.isoformat()) == day.isoformat()


@given(st.datetimes(timezones=st.timezones() | st.none()))
def test_datetime_is_stored_in_utc(moment: dt.datetime) -> None:
    try:
        stored = coerce_value("datetime", moment.isoformat())
    except InvalidData:
        return  # out of range after conversion to UTC (year 1 / 9999 edge), refused cleanly
    assert stored is not None and stored.endswith("Z")
    # Compare with the offset the text carried (a zone's ambiguous DST hour compares by fold otherwise).
    sent = dt.datetime.fromisoformat(moment.isoformat())
    aware = sent if sent.tzinfo is not None else sent.replace(tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(stored.replace("Z", "+00:00")) == aware


def test_date_and_datetime_refuse_garbage() -> None:
    for field_type in ("date", "datetime"):
        with pytest.raises(InvalidData):
            coerce_value(field_type, "tomorrow")
    assert coerce_value("datetime", "2024-01-01T10:00:00Z") == "2024-01-01T10:00:00Z"


def test_email_and_phone_are_normalized() -> None:
    assert coerce_value("email", "A@EXAMPLE.COM") == "A@example.com"
    assert coerce_value("phoneNumber", "+1 650 253 0000") == "+16502530000"
    assert coerce_value("phoneNumber", 16502530000) == "+16502530000"
    with pytest.raises(InvalidData):
        coerce_value("email", 5)
    with pytest.raises(InvalidData):
        coerce_value("phoneNumber", True)


def test_unknown_type_names_type() -> None:
    with pytest.raises(InvalidData) as info:
        coerce_value("color", "red")
    assert _field_of(info.value) == "type"
