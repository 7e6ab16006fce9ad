from __future__ import annotations

from chatbotx.models import Integration
from tests.conftest import Tenant
from tests.lists.rows import ids, insert


async def test_list_integrations_never_shows_credentials(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    openai = Integration(
        workspace_id=ws,
        name="OpenAI",
        kind="openai",
        config={"organization": "org-1", "password": "LEAK"},
        credentials="ENCRYPTED-LEAK",
    )
    sheets = Integration(workspace_id=ws, name="Sheets", kind="googleSheets", status="error")
    foreign = Integration(workspace_id=int(other_tenant.workspace_id), name="Theirs", kind="openai")
    await insert(openai, sheets, foreign)
    api = tenant.client

    response = await api.get("/api/v1/integrations")
    assert response.status_code == 200
    assert "LEAK" not in response.text
    body = response.json()
    assert ids(body) == [str(openai.id), str(sheets.id)]
    assert body[0] == {
        "id": str(openai.id),
        "createdAt": body[0]["createdAt"],
        "updatedAt": body[0]["updatedAt"],
        "name": "OpenAI",
        "kind": "openai",
        "status": "active",
        "config": {"organization": "org-1"},
        "credentialsSet": True,
        "workspaceId": tenant.workspace_id,
    }
    assert body[1]["credentialsSet"] is False
    assert ids((await api.get("/api/v1/integrations", params={"kind": "googleSheets"})).json()) == [
        str(sheets.id)
    ]
    assert ids((await api.get("/api/v1/integrations", params={"kind": "zapier"})).json()) == []
    assert ids((await api.get("/api/v1/integrations", params={"status": "error"})).json()) == [str(sheets.id)]
    assert ids((await api.get("/api/v1/integrations", params={"page": 2, "perPage": 1})).json()) == [
        str(sheets.id)
    ]
    assert ids((await other_tenant.client.get("/api/v1/integrations")).json()) == [str(foreign.id)]
