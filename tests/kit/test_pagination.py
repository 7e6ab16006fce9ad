"""kit.pagination: cursors, sort parsing and page arithmetic."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import column

from chatbotx.kit.errors import InvalidData
from chatbotx.kit.pagination import MAX_PER_PAGE, PageParams, decode_cursor, encode_cursor, parse_sort


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_cursor_round_trip(value: int) -> None:
    cursor = encode_cursor(value)
    assert "=" not in cursor
    assert decode_cursor(cursor) == value


def test_empty_cursor_is_none() -> None:
    assert decode_cursor(None) is None
    assert decode_cursor("") is None


@pytest.mark.parametrize(
    "bad", ["!!!", "abc", encode_cursor(1)[:-1] + "*", "MA", "LTE"]
)  # "MA" = "0", "LTE" = "-1"
def test_bad_cursor_is_a_422_naming_cursor(bad: str) -> None:
    with pytest.raises(InvalidData) as info:
        decode_cursor(bad)
    assert info.value.data == {
        "errors": [{"field": "cursor", "message": "is not a cursor this API gave out"}]
    }


@given(st.text(max_size=40))
def test_decode_cursor_only_raises_invalid_data(text: str) -> None:
    try:
        value = decode_cursor(text)
    except InvalidData:
        return
    assert value is None or 0 < value < 2**63


ALLOWED = {"createdAt": column("created_at"), "name": column("name")}
DEFAULT = [column("id").asc()]


def _sql(clauses: list[object]) -> list[str]:
    return [str(c) for c in clauses]


def test_parse_sort_default_and_valid() -> None:
    assert parse_sort(None, ALLOWED, DEFAULT) is DEFAULT
    assert parse_sort("", ALLOWED, DEFAULT) is DEFAULT
    assert parse_sort("[]", ALLOWED, DEFAULT) is DEFAULT
    got = parse_sort('[{"id":"createdAt","desc":true},{"id":"name"}]', ALLOWED, DEFAULT)
    assert _sql(got) == ["created_at DESC", "name ASC"]
    assert _sql(parse_sort('{"id":"name","desc":false}', ALLOWED, DEFAULT)) == ["name ASC"]


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[{",
        '"createdAt"',
        "42",
        "[1]",
        '[{"desc":true}]',
        '[{"id":5}]',
        '[{"id":"password"}]',
        '[{"id":"name","desc":"yes"}]',
    ],
)
def test_parse_sort_errors_are_422_naming_sort(raw: str) -> None:
    with pytest.raises(InvalidData) as info:
        parse_sort(raw, ALLOWED, DEFAULT)
    assert info.value.status == 422
    assert info.value.data is not None
    assert info.value.data["errors"][0]["field"] == "sort"


@given(st.text(max_size=60))
def test_parse_sort_only_raises_invalid_data(raw: str) -> None:
    with contextlib.suppress(InvalidData):
        parse_sort(raw, ALLOWED, DEFAULT)


def test_page_params_cap_and_count() -> None:
    params = PageParams(page=3, perPage=500)
    assert params.per_page == MAX_PER_PAGE
    assert params.offset == 2 * MAX_PER_PAGE
    assert params.page_count(0) == 0
    assert params.page_count(1) == 1
    assert params.page_count(50) == 1
    assert params.page_count(51) == 2
    assert PageParams().per_page == 20
