from __future__ import annotations

from chatbotx.models import Trigger
from tests.conftest import Tenant
from tests.lists.rows import ids, insert


async def test_list_triggers(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    tagged = Trigger(
        workspace_id=ws,
        name="On VIP",
        event="tagApplied",
        conditions={"operator": "and", "conditions": []},
        actions=[{"type": "startAnotherFlow", "flowId": "1"}],
    )
    new = Trigger(workspace_id=ws, name="Greet new", event="newContact", active=False)
    foreign = Trigger(workspace_id=int(other_tenant.workspace_id), name="Theirs", event="newContact")
    await insert(tagged, new, foreign)
    api = tenant.client

    async def listed(**params: object) -> list[str]:
        response = await api.get("/api/v1/triggers", params=params)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return ids(response.json())

    body = (await api.get("/api/v1/triggers")).json()
    assert ids(body) == [str(new.id), str(tagged.id)]
    assert body[1]["event"] == "tagApplied" and body[1]["actions"] == [
        {"type": "startAnotherFlow", "flowId": "1"}
    ]
    assert body[1]["conditions"] == {"operator": "and", "conditions": []}
    assert set(body[1]) == {"id", "createdAt", "updatedAt", "name", "event", "conditions", "actions"} | {
        "active",
        "folderId",
        "workspaceId",
    }
    assert await listed(event="tagApplied") == [str(tagged.id)]
    assert await listed(event="tagRemoved") == []
    assert await listed(active="false") == [str(new.id)]
    assert await listed(active="true") == [str(tagged.id)]
    assert await listed(page=1, perPage=1) == [str(new.id)]
    assert await listed(page=2, perPage=1) == [str(tagged.id)]
    assert await listed(page=3, perPage=1) == []
    assert ids((await other_tenant.client.get("/api/v1/triggers")).json()) == [str(foreign.id)]
