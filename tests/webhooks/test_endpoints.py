from __future__ import annotations

from chatbotx.models import Webhook
from tests.conftest import Tenant
from tests.lists.rows import ids, insert


async def test_list_webhooks_never_shows_secrets(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    first = Webhook(
        workspace_id=ws,
        name="crm",
        url="https://crm.example.com/hook",
        events=["message.created"],
        secret="whsec_TOPSECRET",
    )
    second = Webhook(workspace_id=ws, name="off", url="https://b.example.com", active=False, secret="whsec_2")
    foreign = Webhook(workspace_id=int(other_tenant.workspace_id), url="https://other.example.com")
    await insert(first)
    await insert(second, foreign)
    api = tenant.client

    response = await api.get("/api/v1/webhooks")
    assert response.status_code == 200
    assert "whsec_" not in response.text and "secret" not in response.text.lower()
    body = response.json()
    assert ids(body) == [str(first.id), str(second.id)]
    assert body[0] == {
        "id": str(first.id),
        "createdAt": body[0]["createdAt"],
        "updatedAt": body[0]["updatedAt"],
        "name": "crm",
        "url": "https://crm.example.com/hook",
        "events": ["message.created"],
        "active": True,
        "workspaceId": tenant.workspace_id,
    }
    assert ids((await api.get("/api/v1/webhooks", params={"active": "true"})).json()) == [str(first.id)]
    assert ids((await api.get("/api/v1/webhooks", params={"active": "false"})).json()) == [str(second.id)]
    assert ids((await api.get("/api/v1/webhooks", params={"page": 2, "perPage": 1})).json()) == [
        str(second.id)
    ]
    assert ids((await other_tenant.client.get("/api/v1/webhooks")).json()) == [str(foreign.id)]
