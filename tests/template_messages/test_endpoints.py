from __future__ import annotations

from chatbotx.models import Inbox, TemplateMessage
from tests.conftest import Tenant
from tests.lists.rows import ids, insert


async def test_list_template_messages_filters(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    wa1 = Inbox(workspace_id=ws, name="wa1", channel="whatsapp")
    wa2 = Inbox(workspace_id=ws, name="wa2", channel="whatsapp")
    await insert(wa1, wa2)
    approved = TemplateMessage(
        workspace_id=ws,
        inbox_id=wa1.id,
        integration_whatsapp_id="waba-1",
        name="order_update",
        status="APPROVED",
        category="UTILITY",
        components=[{"type": "BODY", "text": "Your order {{1}} shipped"}],
    )
    pending = TemplateMessage(
        workspace_id=ws, inbox_id=wa2.id, integration_whatsapp_id="waba-2", name="promo", status="PENDING"
    )
    rejected = TemplateMessage(workspace_id=ws, inbox_id=wa1.id, name="spam", status="REJECTED")
    foreign = TemplateMessage(workspace_id=int(other_tenant.workspace_id), name="theirs", status="APPROVED")
    await insert(approved, pending, rejected, foreign)
    api = tenant.client

    async def listed(**params: object) -> list[str]:
        response = await api.get("/api/v1/template-messages", params=params)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return ids(response.json())

    body = (await api.get("/api/v1/template-messages")).json()
    assert ids(body) == [str(approved.id), str(pending.id), str(rejected.id)]
    assert body[0]["integrationWhatsappId"] == "waba-1" and body[0]["inboxId"] == str(wa1.id)
    assert body[0]["components"] == [{"type": "BODY", "text": "Your order {{1}} shipped"}]
    assert body[0]["language"] == "en_US" and body[0]["category"] == "UTILITY"
    assert await listed(inboxId=str(wa1.id)) == [str(approved.id), str(rejected.id)]
    assert await listed(inboxId=str(wa2.id)) == [str(pending.id)]
    assert await listed(inboxId="999") == []
    assert await listed(integrationWhatsappId="waba-2") == [str(pending.id)]
    assert await listed(integrationWhatsappId="waba-9") == []
    assert await listed(status="APPROVED") == [str(approved.id)]
    assert await listed(status="REJECTED", inboxId=str(wa1.id)) == [str(rejected.id)]
    assert await listed(status="REJECTED", inboxId=str(wa2.id)) == []
    assert await listed(page=2, perPage=2) == [str(rejected.id)]
    bad = await api.get("/api/v1/template-messages", params={"status": "LIVE"})
    assert bad.status_code == 422 and bad.json()["code"] == "INVALID_REQUEST_DATA"
    assert ids((await other_tenant.client.get("/api/v1/template-messages")).json()) == [str(foreign.id)]
