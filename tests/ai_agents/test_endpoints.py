from __future__ import annotations

from chatbotx.models import AiAgent
from tests.conftest import Tenant
from tests.lists.rows import ids, insert


async def test_list_ai_agents(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    support = AiAgent(
        workspace_id=ws,
        name="Support",
        model="gpt-4o-mini",
        instructions="Be kind.",
        active=True,
        settings={"temperature": 0.2, "apiKey": "sk-LEAK", "nested": {"authToken": "LEAK2", "topK": 3}},
    )
    sales = AiAgent(workspace_id=ws, name="Sales", model="claude")
    foreign = AiAgent(workspace_id=int(other_tenant.workspace_id), name="Theirs")
    await insert(support, sales, foreign)
    api = tenant.client

    response = await api.get("/api/v1/ai-agents")
    assert response.status_code == 200
    assert "LEAK" not in response.text
    body = response.json()
    assert ids(body) == [str(sales.id), str(support.id)]
    assert body[1]["settings"] == {"temperature": 0.2, "nested": {"topK": 3}}
    assert body[1]["instructions"] == "Be kind." and body[1]["model"] == "gpt-4o-mini"
    assert ids((await api.get("/api/v1/ai-agents", params={"active": "true"})).json()) == [str(support.id)]
    assert ids((await api.get("/api/v1/ai-agents", params={"active": "false"})).json()) == [str(sales.id)]
    assert ids((await api.get("/api/v1/ai-agents", params={"perPage": 1})).json()) == [str(sales.id)]
    assert ids((await other_tenant.client.get("/api/v1/ai-agents")).json()) == [str(foreign.id)]
