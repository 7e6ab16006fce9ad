from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from chatbotx.kit import db
from chatbotx.models import Contact, Conversation
from chatbotx.workspaces import service as workspaces
from tests.conftest import Tenant

URL = "/api/v1/members"


async def _owner(api: httpx.AsyncClient) -> dict[str, Any]:
    members = (await api.get(URL)).json()["data"]
    return next(m for m in members if m["role"] == "owner")


async def _add(api: httpx.AsyncClient, email: str, role: str = "agent", **extra: Any) -> dict[str, Any]:
    response = await api.post(URL, json={"email": email, "role": role, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_list_and_get(tenant: Tenant) -> None:
    api = tenant.client
    page = (await api.get(URL)).json()
    assert page["pageCount"] == 1 and len(page["data"]) == 1
    owner = page["data"][0]
    assert set(owner) == {"id", "createdAt", "updatedAt", "role", "workspaceId", "userId", "user"}
    assert set(owner["user"]) == {
        "id",
        "createdAt",
        "updatedAt",
        "name",
        "email",
        "emailVerified",
        "image",
        "isAnonymous",
    }
    assert owner["role"] == "owner" and owner["workspaceId"] == tenant.workspace_id
    assert owner["userId"] == owner["user"]["id"]
    got = await api.get(f"{URL}/{owner['id']}")
    assert got.status_code == 200 and got.json() == owner


async def test_add_member(api: httpx.AsyncClient) -> None:
    # Users are shared by all workspaces (and tests): fresh addresses make these new users.
    ann, bob = f"Ann-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    member = await _add(api, f"{ann}@Example.COM", "admin", name="Ann Lee")
    assert member["role"] == "admin"
    assert member["user"]["email"] == f"{ann}@example.com" and member["user"]["name"] == "Ann Lee"
    default_role = await _add(api, f"{bob}@example.com")
    assert default_role["role"] == "agent" and default_role["user"]["name"] == bob
    again = await api.post(URL, json={"email": f"{ann.lower()}@EXAMPLE.com"})
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_MEMBER"
    assert (await api.get(URL)).json()["pageCount"] == 1
    assert len((await api.get(URL)).json()["data"]) == 3


async def test_a_user_can_be_in_two_workspaces(api: httpx.AsyncClient, other_tenant: Tenant) -> None:
    mine = await _add(api, "shared@example.com")
    theirs = await _add(other_tenant.client, "shared@example.com", "admin")
    assert mine["userId"] == theirs["userId"] and mine["id"] != theirs["id"]


async def test_add_validation(api: httpx.AsyncClient) -> None:
    bad_email = await api.post(URL, json={"email": "not-an-email"})
    assert bad_email.status_code == 422 and bad_email.json()["data"]["errors"][0]["field"] == "email"
    assert (await api.post(URL, json={"email": "a@example.com", "role": "boss"})).status_code == 422
    assert (await api.post(URL, json={"role": "agent"})).status_code == 422
    assert len((await api.get(URL)).json()["data"]) == 1


async def test_paging_keyword_and_sort(api: httpx.AsyncClient) -> None:
    for name in ("Carol", "Dave", "Erin"):
        await _add(api, f"{name.lower()}@corp.example", name=name)
    page = (await api.get(URL, params={"perPage": 2, "page": 2})).json()
    assert page["pageCount"] == 2 and len(page["data"]) == 2
    found = (await api.get(URL, params={"keyword": "DAV"})).json()["data"]
    assert [m["user"]["name"] for m in found] == ["Dave"]
    by_email = (await api.get(URL, params={"keyword": "corp.example"})).json()["data"]
    assert len(by_email) == 3
    sort = json.dumps([{"id": "name", "desc": True}])
    names = [
        m["user"]["name"]
        for m in (await api.get(URL, params={"sort": sort, "keyword": "corp"})).json()["data"]
    ]
    assert names == ["Erin", "Dave", "Carol"]
    bad = await api.get(URL, params={"sort": json.dumps([{"id": "password"}])})
    assert bad.status_code == 422


async def test_change_role_and_last_owner(api: httpx.AsyncClient) -> None:
    owner = await _owner(api)
    demote = await api.put(f"{URL}/{owner['id']}", json={"role": "admin"})
    assert demote.status_code == 400 and demote.json()["code"] == "LAST_OWNER"
    remove = await api.delete(f"{URL}/{owner['id']}")
    assert remove.status_code == 400 and remove.json()["code"] == "LAST_OWNER"
    assert (await _owner(api))["id"] == owner["id"]

    agent = await _add(api, "agent@example.com")
    promoted = await api.put(f"{URL}/{agent['id']}", json={"role": "owner"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
    demoted = await api.put(f"{URL}/{owner['id']}", json={"role": "agent"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "agent"
    last = await api.put(f"{URL}/{agent['id']}", json={"role": "admin"})
    assert last.status_code == 400
    assert (await api.put(f"{URL}/{agent['id']}", json={"role": "root"})).status_code == 422


async def test_remove_member_revokes_their_tokens(tenant: Tenant, app: object) -> None:
    api = tenant.client
    agent = await _add(api, "leaving@example.com")
    async with db.get_database().sessionmaker() as session:
        _, agent_token = await workspaces.create_token(
            session, int(tenant.workspace_id), member_id=int(agent["id"])
        )
        await db.commit(session)
    headers = {"Authorization": f"Bearer {agent_token}"}
    assert (await api.get(URL, headers=headers)).status_code == 200
    assert (await api.delete(f"{URL}/{agent['id']}")).status_code == 204
    assert (await api.get(f"{URL}/{agent['id']}")).status_code == 404
    assert (await api.get(URL, headers=headers)).status_code == 401
    assert len((await api.get(URL)).json()["data"]) == 1


async def test_other_workspace_is_404(api: httpx.AsyncClient, other_tenant: Tenant) -> None:
    member = await _add(api, "mine@example.com")
    other = other_tenant.client
    assert (await other.get(f"{URL}/{member['id']}")).status_code == 404
    assert (await other.put(f"{URL}/{member['id']}", json={"role": "admin"})).status_code == 404
    assert (await other.delete(f"{URL}/{member['id']}")).status_code == 404
    assert (await other.get(f"{URL}/not-an-id")).status_code == 404
    assert (await api.get(f"{URL}/{member['id']}")).json()["role"] == "agent"


async def test_scopes(tenant: Tenant) -> None:
    async with db.get_database().sessionmaker() as session:
        _, reader = await workspaces.create_token(session, int(tenant.workspace_id), ["members.list"])
        await db.commit(session)
    headers = {"Authorization": f"Bearer {reader}"}
    assert (await tenant.client.get(URL, headers=headers)).status_code == 200
    refused = await tenant.client.post(URL, json={"email": "x@example.com"}, headers=headers)
    assert refused.status_code == 403


async def test_removed_member_is_unassigned_from_conversations(tenant: Tenant) -> None:
    api = tenant.client
    agent = await _add(api, f"assignee-{uuid.uuid4().hex[:8]}@example.com")
    async with db.get_database().sessionmaker() as session:
        contact = Contact(workspace_id=int(tenant.workspace_id))
        session.add(contact)
        await session.flush()
        conversation = Conversation(
            workspace_id=int(tenant.workspace_id),
            contact_id=contact.id,
            assigned_user_id=int(agent["userId"]),
        )
        session.add(conversation)
        await db.commit(session)
    assert (await api.delete(f"{URL}/{agent['id']}")).status_code == 204
    async with db.get_database().sessionmaker() as session:
        assigned = await session.scalar(
            select(Conversation.assigned_user_id).where(Conversation.id == conversation.id)
        )
    assert assigned is None
