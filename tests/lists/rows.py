"""Inserting rows straight into the database, for resources that have no create endpoint yet."""

from __future__ import annotations

from typing import Any, TypeVar

from chatbotx.kit import db

T = TypeVar("T")


async def insert(*rows: Any) -> None:
    """Add `rows` in one transaction and commit."""
    async with db.get_database().sessionmaker() as session:
        session.add_all(rows)
        await db.commit(session)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]
