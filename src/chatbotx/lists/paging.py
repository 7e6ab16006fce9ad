"""Optional page/perPage for bare-array collections, and keyset cursors over (timestamp, id)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import Select

from chatbotx.kit.errors import invalid_field
from chatbotx.kit.pagination import MAX_PAGE, MAX_PER_PAGE

DEFAULT_PER_PAGE = 20


class OptionalPageParams:
    """page/perPage that apply only when given: without them a small collection comes back whole."""

    def __init__(
        self,
        page: Annotated[
            int | None, Query(ge=1, le=MAX_PAGE, description="1-based page; omit both to get everything")
        ] = None,
        perPage: Annotated[
            int | None,
            Query(ge=1, le=MAX_PAGE, description="Items per page (default 20, capped at 50) when paging"),
        ] = None,
    ):
        self.enabled = page is not None or perPage is not None
        self.page = page or 1
        self.per_page = min(perPage or DEFAULT_PER_PAGE, MAX_PER_PAGE)

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        if not self.enabled:
            return stmt
        return stmt.limit(self.per_page).offset((self.page - 1) * self.per_page)


OptionalPageDep = Annotated[OptionalPageParams, Depends()]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def encode_keyset(at: dt.datetime, row_id: int) -> str:
    """An opaque cursor for the row after which the next page starts."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    micros = (at - _EPOCH) // dt.timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}.{row_id}".encode()).decode().rstrip("=")


def decode_keyset(cursor: str | None) -> tuple[dt.datetime, int] | None:
    """The (timestamp, id) of a cursor from `encode_keyset`; anything else is a 422 naming `cursor`."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        micros_text, row_text = base64.urlsafe_b64decode(padded.encode()).decode().split(".")
        micros, row_id = int(micros_text), int(row_text)
        at = _EPOCH + dt.timedelta(microseconds=micros)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise invalid_field("cursor", "is not a cursor this API gave out") from None
    if not 0 < row_id < 2**63:
        raise invalid_field("cursor", "is not a cursor this API gave out")
    return at, row_id
