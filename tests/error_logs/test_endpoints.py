from __future__ import annotations

import datetime as dt
import json

from chatbotx.models import ErrorLog
from tests.conftest import Tenant
from tests.lists.rows import ids, insert

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


async def test_list_error_logs(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    wa = ErrorLog(
        workspace_id=ws,
        source="channel.whatsapp",
        code="OUTSIDE_WINDOW",
        message="The 24-hour window is closed",
        data={"contactId": "1"},
        created_at=T0,
    )
    hook = ErrorLog(
        workspace_id=ws,
        source="webhook",
        code="HTTP_500",
        message="Endpoint answered 500",
        created_at=T0 + dt.timedelta(hours=1),
    )
    flow = ErrorLog(
        workspace_id=ws,
        source="flow",
        code="NODE_FAILED",
        message="Window check failed",
        created_at=T0 + dt.timedelta(hours=2),
    )
    foreign = ErrorLog(workspace_id=int(other_tenant.workspace_id), source="flow", code="X", message="theirs")
    await insert(wa, hook, flow, foreign)
    api = tenant.client

    async def listed(**params: object) -> list[str]:
        response = await api.get("/api/v1/error-logs", params=params)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return ids(response.json()["data"])

    body = (await api.get("/api/v1/error-logs")).json()
    assert body["pageCount"] == 1
    assert ids(body["data"]) == [str(flow.id), str(hook.id), str(wa.id)]
    assert body["data"][2] == {
        "id": str(wa.id),
        "createdAt": "2026-03-01T00:00:00Z",
        "updatedAt": body["data"][2]["updatedAt"],
        "source": "channel.whatsapp",
        "code": "OUTSIDE_WINDOW",
        "message": "The 24-hour window is closed",
        "data": {"contactId": "1"},
        "workspaceId": tenant.workspace_id,
    }
    assert await listed(keyword="window") == [str(flow.id), str(wa.id)]  # message, any case
    assert await listed(keyword="http_5") == [str(hook.id)]  # code
    assert await listed(keyword="WHATSAPP") == [str(wa.id)]  # source
    assert await listed(keyword="absent") == []
    assert await listed(sort=json.dumps([{"id": "createdAt", "desc": False}])) == [
        str(wa.id),
        str(hook.id),
        str(flow.id),
    ]
    assert await listed(sort=json.dumps([{"id": "code"}])) == [str(hook.id), str(flow.id), str(wa.id)]
    pages = [await listed(page=p, perPage=2) for p in (1, 2)]
    assert pages == [[str(flow.id), str(hook.id)], [str(wa.id)]]
    assert (await api.get("/api/v1/error-logs", params={"perPage": 2})).json()["pageCount"] == 2
    assert (await api.get("/api/v1/error-logs", params={"sort": '[{"id":"message"}]'})).status_code == 422
    assert ids((await other_tenant.client.get("/api/v1/error-logs")).json()["data"]) == [str(foreign.id)]
