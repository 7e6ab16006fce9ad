"""Every read of the list area needs its own scope; a token for something else gets 403, no token 401."""

from __future__ import annotations

import httpx
import pytest

from chatbotx.kit import db
from chatbotx.workspaces.service import create_token
from tests.conftest import Tenant

READS = [
    ("/api/v1/conversations", "conversations.list"),
    ("/api/v1/flows", "flows.list"),
    ("/api/v1/flows/1", "flows.list"),
    ("/api/v1/sequences", "sequences.list"),
    ("/api/v1/sequences/1", "sequences.list"),
    ("/api/v1/broadcasts", "broadcasts.list"),
    ("/api/v1/broadcasts/x", "broadcasts.list"),
    ("/api/v1/keywords", "keywords.list"),
    ("/api/v1/triggers", "triggers.list"),
    ("/api/v1/webhooks", "webhooks.list"),
    ("/api/v1/template-messages", "template_messages.list"),
    ("/api/v1/ai-agents", "ai_agents.list"),
    ("/api/v1/integrations", "integrations.list"),
    ("/api/v1/error-logs", "error_logs.list"),
]


@pytest.mark.parametrize(("path", "scope"), READS)
async def test_reads_need_their_scope(
    tenant: Tenant, app: object, anon: httpx.AsyncClient, path: str, scope: str
) -> None:
    assert (await anon.get(path)).status_code == 401
    async with db.get_database().sessionmaker() as session:
        _, wrong = await create_token(session, int(tenant.workspace_id), ["tags.list"])
        _, right = await create_token(session, int(tenant.workspace_id), [scope])
        await db.commit(session)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
    ) as client:
        denied = await client.get(path, headers={"Authorization": f"Bearer {wrong}"})
        assert denied.status_code == 403 and denied.json()["code"] == "FORBIDDEN"
        allowed = await client.get(path, headers={"Authorization": f"Bearer {right}"})
        assert allowed.status_code in (200, 404)


async def test_flow_writes_need_flows_edit(tenant: Tenant, app: object) -> None:
    async with db.get_database().sessionmaker() as session:
        _, reader = await create_token(session, int(tenant.workspace_id), ["flows.list"])
        await db.commit(session)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {reader}"},
    ) as client:
        assert (await client.post("/api/v1/flows", json={"name": "x"})).status_code == 403
        assert (await client.put("/api/v1/flows/1", json={"name": "x"})).status_code == 403
        assert (await client.delete("/api/v1/flows/1")).status_code == 403
        assert (await client.get("/api/v1/flows")).json() == []
