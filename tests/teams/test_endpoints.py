from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from chatbotx.kit import db
from chatbotx.models import Contact, Conversation
from tests.conftest import Tenant

URL = "/api/v1/teams"


async def _member(api: httpx.AsyncClient, email: str) -> str:
    response = await api.post("/api/v1/members", json={"email": email})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _team(api: httpx.AsyncClient, name: str, **extra: Any) -> dict[str, Any]:
    response = await api.post(URL, json={"name": name, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_team_crud(api: httpx.AsyncClient) -> None:
    ann = await _member(api, "ann@example.com")
    team = await _team(api, "Support", description="Front line", memberIds=[ann])
    assert set(team) == {"id", "createdAt", "updatedAt", "workspaceId", "name", "description", "memberIds"}
    assert team["memberIds"] == [ann] and team["description"] == "Front line"
    listed = (await api.get(URL)).json()
    assert listed == [team]
    assert (await api.get(f"{URL}/{team['id']}")).json() == team
    updated = await api.put(f"{URL}/{team['id']}", json={"name": "Care", "description": None})
    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["description"], updated.json()["memberIds"]) == (
        "Care",
        None,
        [ann],
    )
    assert (await api.delete(f"{URL}/{team['id']}")).status_code == 204
    assert (await api.get(f"{URL}/{team['id']}")).status_code == 404
    assert (await api.get(URL)).json() == []


async def test_duplicate_and_validation(api: httpx.AsyncClient) -> None:
    await _team(api, "Sales")
    again = await api.post(URL, json={"name": "Sales"})
    assert again.status_code == 409 and again.json()["code"] == "DUPLICATE_NAME"
    other = await _team(api, "Ops")
    assert (await api.put(f"{URL}/{other['id']}", json={"name": "Sales"})).status_code == 409
    assert (await api.post(URL, json={"name": ""})).status_code == 422
    unknown = await api.post(URL, json={"name": "X", "memberIds": ["123"]})
    assert unknown.status_code == 422 and unknown.json()["data"]["errors"][0]["field"] == "memberIds"
    assert sorted(t["name"] for t in (await api.get(URL)).json()) == ["Ops", "Sales"]


async def test_add_and_remove_members(api: httpx.AsyncClient) -> None:
    a, b, c = [await _member(api, f"{n}@example.com") for n in "abc"]
    team = await _team(api, "T", memberIds=[a])
    added = await api.post(f"{URL}/{team['id']}/members", json={"memberIds": [a, b, c]})
    assert added.status_code == 200, added.text
    assert sorted(added.json()["memberIds"]) == sorted([a, b, c])
    removed = await api.request("DELETE", f"{URL}/{team['id']}/members", json={"memberIds": [b, "999"]})
    assert removed.status_code == 200 and sorted(removed.json()["memberIds"]) == sorted([a, c])
    bad = await api.post(f"{URL}/{team['id']}/members", json={"memberIds": [b, "999"]})
    assert bad.status_code == 422
    assert (await api.post(f"{URL}/{team['id']}/members", json={"memberIds": []})).status_code == 422
    assert sorted((await api.get(f"{URL}/{team['id']}")).json()["memberIds"]) == sorted([a, c])


async def test_removed_member_leaves_teams(api: httpx.AsyncClient) -> None:
    a = await _member(api, "a@example.com")
    team = await _team(api, "T", memberIds=[a])
    assert (await api.delete(f"/api/v1/members/{a}")).status_code == 204
    assert (await api.get(f"{URL}/{team['id']}")).json()["memberIds"] == []


async def test_deleting_a_team_unassigns_its_conversations(tenant: Tenant) -> None:
    team = await _team(tenant.client, "T")
    async with db.get_database().sessionmaker() as session:
        contact = Contact(workspace_id=int(tenant.workspace_id))
        session.add(contact)
        await session.flush()
        conversation = Conversation(
            workspace_id=int(tenant.workspace_id), contact_id=contact.id, assigned_team_id=int(team["id"])
        )
        session.add(conversation)
        await db.commit(session)
    assert (await tenant.client.delete(f"{URL}/{team['id']}")).status_code == 204
    async with db.get_database().sessionmaker() as session:
        assigned = await session.scalar(
            select(Conversation.assigned_team_id).where(Conversation.id == conversation.id)
        )
    assert assigned is None


async def test_other_workspace_is_404(api: httpx.AsyncClient, other_tenant: Tenant) -> None:
    mine = await _member(api, "m@example.com")
    team = await _team(api, "Mine", memberIds=[mine])
    other = other_tenant.client
    assert (await other.get(f"{URL}/{team['id']}")).status_code == 404
    assert (await other.put(f"{URL}/{team['id']}", json={"name": "x"})).status_code == 404
    assert (await other.delete(f"{URL}/{team['id']}")).status_code == 404
    assert (await other.post(f"{URL}/{team['id']}/members", json={"memberIds": [mine]})).status_code == 404
    assert (await other.get(URL)).json() == []
    # Another workspace's member cannot be put in a team.
    theirs = await other.post(URL, json={"name": "Theirs", "memberIds": [mine]})
    assert theirs.status_code == 422
    assert (await api.get(f"{URL}/{team['id']}")).json()["memberIds"] == [mine]
    assert (await api.get(f"{URL}/nope")).status_code == 404
