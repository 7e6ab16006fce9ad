from __future__ import annotations

import datetime as dt
import json

from chatbotx.models import Contact, Flow, Sequence, SequenceEnrollment, SequenceStep
from tests.conftest import Tenant
from tests.lists.rows import ids, insert

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def test_list_and_get_sequences(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    flow = Flow(workspace_id=ws, name="Day 1")
    onboarding = Sequence(workspace_id=ws, name="Onboarding", description="5 days", created_at=T0)
    winback = Sequence(workspace_id=ws, name="Winback", active=False, created_at=T0 + dt.timedelta(days=1))
    empty = Sequence(workspace_id=ws, name="Empty", created_at=T0 + dt.timedelta(days=2))
    contacts = [Contact(workspace_id=ws, first_name=f"c{i}") for i in range(4)]
    foreign = Sequence(workspace_id=int(other_tenant.workspace_id), name="Theirs")
    await insert(flow, onboarding, winback, empty, foreign, *contacts)
    second = SequenceStep(
        sequence_id=onboarding.id,
        position=1,
        delay_value=2,
        delay_unit="days",
        anytime=False,
        send_time_start="09:00",
        send_time_end="17:00",
        send_days=[0, 1, 2],
    )
    first = SequenceStep(sequence_id=onboarding.id, position=0, flow_id=flow.id, delay_value=0)
    await insert(
        second,
        first,
        SequenceStep(sequence_id=winback.id, position=0),
        SequenceEnrollment(sequence_id=onboarding.id, contact_id=contacts[0].id, status="active"),
        SequenceEnrollment(sequence_id=onboarding.id, contact_id=contacts[1].id, status="active"),
        SequenceEnrollment(sequence_id=onboarding.id, contact_id=contacts[2].id, status="completed"),
        SequenceEnrollment(sequence_id=onboarding.id, contact_id=contacts[3].id, status="cancelled"),
        SequenceEnrollment(sequence_id=winback.id, contact_id=contacts[0].id, status="paused"),
    )
    api = tenant.client

    listed = await api.get("/api/v1/sequences")
    assert listed.status_code == 200
    body = listed.json()
    assert body["pageCount"] == 1
    assert ids(body["data"]) == [str(empty.id), str(winback.id), str(onboarding.id)]  # newest first
    by_name = {s["name"]: s for s in body["data"]}
    assert by_name["Onboarding"]["stepCount"] == 2
    assert by_name["Onboarding"]["enrollmentCounts"] == {
        "total": 4,
        "active": 2,
        "completed": 1,
        "cancelled": 1,
    }
    assert by_name["Winback"]["enrollmentCounts"] == {"total": 1, "active": 0, "completed": 0, "cancelled": 0}
    assert by_name["Winback"]["active"] is False
    assert by_name["Empty"]["stepCount"] == 0 and by_name["Empty"]["enrollmentCounts"]["total"] == 0
    assert "steps" not in by_name["Empty"]

    got = await api.get(f"/api/v1/sequences/{onboarding.id}")
    assert got.status_code == 200
    detail = got.json()
    assert detail["name"] == "Onboarding" and detail["description"] == "5 days"
    assert ids(detail["steps"]) == [str(first.id), str(second.id)]
    assert detail["steps"][0]["flowId"] == str(flow.id) and detail["steps"][0]["sequenceId"] == str(
        onboarding.id
    )
    assert detail["steps"][1] | {"id": "", "createdAt": "", "updatedAt": ""} == {
        "id": "",
        "createdAt": "",
        "updatedAt": "",
        "sequenceId": str(onboarding.id),
        "position": 1,
        "flowId": None,
        "delayValue": 2,
        "delayUnit": "days",
        "anytime": False,
        "sendTimeStart": "09:00",
        "sendTimeEnd": "17:00",
        "sendDays": [0, 1, 2],
        "active": True,
    }
    assert detail["enrollmentCounts"]["total"] == 4

    other = other_tenant.client
    assert (await other.get(f"/api/v1/sequences/{onboarding.id}")).status_code == 404
    assert ids((await other.get("/api/v1/sequences")).json()["data"]) == [str(foreign.id)]
    assert (await api.get("/api/v1/sequences/nope")).status_code == 404
    assert (await api.get(f"/api/v1/sequences/{foreign.id}")).status_code == 404


async def test_sequence_paging_and_sort(tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    rows = [
        Sequence(workspace_id=ws, name=f"s{i:02d}", created_at=T0 + dt.timedelta(minutes=i % 3))
        for i in range(7)
    ]
    await insert(*rows)
    api = tenant.client
    seen: list[str] = []
    for page in (1, 2, 3):
        body = (await api.get("/api/v1/sequences", params={"page": page, "perPage": 3})).json()
        assert body["pageCount"] == 3
        seen += ids(body["data"])
    assert sorted(seen) == sorted(str(r.id) for r in rows) and len(set(seen)) == 7
    assert (await api.get("/api/v1/sequences", params={"page": 4, "perPage": 3})).json()["data"] == []

    by_name = await api.get("/api/v1/sequences", params={"sort": json.dumps([{"id": "name", "desc": False}])})
    assert [s["name"] for s in by_name.json()["data"]] == [f"s{i:02d}" for i in range(7)]
    bad = await api.get("/api/v1/sequences", params={"sort": json.dumps([{"id": "secret"}])})
    assert bad.status_code == 422 and bad.json()["code"] == "INVALID_REQUEST_DATA"
    assert (await api.get("/api/v1/sequences", params={"sort": "{nope"})).status_code == 422
