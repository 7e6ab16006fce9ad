"""Contact writes through the API publish contact.created / contact.updated / contact.deleted events."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from chatbotx.kit import db
from chatbotx.models import Event
from tests.conftest import Tenant


async def _events(workspace_id: str) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    async with db.get_database().sessionmaker() as session:
        rows = await session.execute(
            select(Event.type, Event.payload)
            .where(Event.workspace_id == int(workspace_id))
            .order_by(Event.id)
        )
        return [(row.type, row.payload) for row in rows]


async def test_contact_writes_publish_events(tenant: Tenant, api: httpx.AsyncClient) -> None:
    created = (
        await api.post("/api/v1/contacts", json={"email": "ev@example.com", "firstName": "Eve"})
    ).json()
    assert (await api.put(f"/api/v1/contacts/{created['id']}", json={"lastName": "Lee"})).status_code == 204
    assert (await api.post(f"/api/v1/contacts/{created['id']}/block")).status_code == 204
    assert (
        await api.post(f"/api/v1/contacts/{created['id']}/block")
    ).status_code == 204  # no change: no event
    assert (await api.delete(f"/api/v1/contacts/{created['id']}")).status_code == 204

    seen = await _events(tenant.workspace_id)
    assert [t for t, _ in seen] == [
        "contact.created",
        "contact.updated",
        "contact.updated",
        "contact.deleted",
    ]
    assert seen[0][1]["email"] == "ev@example.com" and seen[0][1]["id"] == created["id"]
    assert seen[1][1]["fullName"] == "Eve Lee"
    assert seen[2][1]["blockedAt"] is not None
    assert seen[3][1] == {"id": created["id"]}


async def test_a_refused_write_publishes_nothing(tenant: Tenant, api: httpx.AsyncClient) -> None:
    await api.post("/api/v1/contacts", json={"email": "dup@example.com"})
    again = await api.post("/api/v1/contacts", json={"email": "dup@example.com"})
    assert again.status_code == 409
    assert [t for t, _ in await _events(tenant.workspace_id)] == ["contact.created"]
