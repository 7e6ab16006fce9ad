from __future__ import annotations

import httpx

from chatbotx.kit import db
from chatbotx.workspaces.service import create_token
from tests.conftest import Tenant
from tests.contact_tags.factories import make_contact, make_tag


async def scoped_client(app: object, tenant: Tenant, *scopes: str) -> httpx.AsyncClient:
    async with db.get_database().sessionmaker() as session:
        _, plain = await create_token(session, int(tenant.workspace_id), scopes)
        await db.commit(session)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {plain}"},
    )


async def test_reads_and_writes_need_their_scopes(app: object, tenant: Tenant) -> None:
    contact = await make_contact(tenant.workspace_id)
    tag = await make_tag(tenant.workspace_id, "t")
    base = f"/api/v1/contacts/id:{contact.id}"
    async with await scoped_client(app, tenant, "contacts.list", "messages.list") as reader:
        for path in ("/tags", "/custom-fields", "/messages"):
            assert (await reader.get(base + path)).status_code == 200, path
        writes = [
            ("POST", "/tags", {"tagIds": [tag.id]}),
            ("DELETE", "/tags", {"tagIds": [tag.id]}),
            ("PUT", "/custom-fields", {"fields": [{"name": "x", "value": 1}]}),
            ("DELETE", "/custom-fields", None),
            ("POST", "/messages", {"text": "hi"}),
            ("POST", "/flows", {"flowId": "1"}),
            ("POST", "/auto-replies", {"keyword": "hi"}),
        ]
        for method, path, body in writes:
            response = await reader.request(method, base + path, json=body)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["code"] == "FORBIDDEN"
    async with await scoped_client(app, tenant, "contacts.list", "contacts.edit") as contacts_only:
        assert (await contacts_only.post(base + "/tags", json={"tagIds": [tag.id]})).status_code == 204
        assert (await contacts_only.get(base + "/messages")).status_code == 403
        assert (await contacts_only.post(base + "/messages", json={"text": "hi"})).status_code == 403
