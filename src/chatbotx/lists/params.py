"""Query parameters shared by the list endpoints: ids given as query strings, keyword matching."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_

from chatbotx.kit.errors import invalid_field
from chatbotx.kit.ids import parse_id


def query_id(value: str | None, field: str) -> int | None:
    """The id in a query parameter (None when absent); a malformed one is a 422 naming `field`."""
    if value is None or value == "":
        return None
    parsed = parse_id(value)
    if parsed is None:
        raise invalid_field(field, "must be an id (a positive integer, as a string)")
    return parsed


def query_ids(values: list[str] | None, field: str, max_items: int = 100) -> list[int]:
    """Ids from a repeated and/or comma-separated query parameter (`tags=1&tags=2` or `tags=1,2`)."""
    ids: set[int] = set()
    for value in values or []:
        for part in value.split(","):
            parsed = query_id(part.strip(), field)
            if parsed is not None:
                ids.add(parsed)
    if len(ids) > max_items:
        raise invalid_field(field, f"at most {max_items} ids")
    return sorted(ids)


def contains_any(keyword: str, *columns: Any) -> ColumnElement[bool]:
    """Case-insensitive substring match on any of `columns`; LIKE wildcards in `keyword` are literal."""
    needle = keyword.strip().lower()
    return or_(*(func.lower(column).contains(needle, autoescape=True) for column in columns))
