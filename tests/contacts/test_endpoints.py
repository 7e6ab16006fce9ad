from __future__ import annotations

import httpx

from chatbotx.contacts.schemas import Contact
from tests.conftest import Tenant
from tests.contacts import helpers

BASE = "/api/v1/contacts"


async def create(api: httpx.AsyncClient, **body: object) -> dict:
    response = await api.post(BASE, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_create_returns_the_full_contact(api: httpx.AsyncClient) -> None:
    contact = await create(
        api,
        firstName="Ann",
        lastName="Lee",
        email="Ann@Example.COM",
        phoneNumber="+84 90 123 45 67",
        gender="female",
        locale="vi_VN",
        timezone="Asia/Ho_Chi_Minh",
        country="vn",
        city="Hanoi",
        ref="crm-1",
        emailOptIn=False,
    )
    Contact.model_validate(contact)
    assert contact["fullName"] == "Ann Lee"
    assert contact["email"] == "Ann@example.com"
    assert contact["phoneNumber"] == "+84901234567"
    assert contact["country"] == "VN"
    assert contact["emailOptIn"] is False
    assert contact["subscribedAt"] and contact["broadcastSubscribedAt"]
    assert contact["source"] == "api"
    assert contact["id"].isdigit() and contact["workspaceId"].isdigit()
    for key in ("contactCustomFields", "tags", "contactNotes", "contactInboxes"):
        assert contact[key] == []
    assert contact["conversation"] is None


async def test_get_by_every_identifier_kind(api: httpx.AsyncClient) -> None:
    contact = await create(api, firstName="Bo", email="bo@example.com", phoneNumber="+14155550100")
    for identifier in (
        contact["id"],
        f"id:{contact['id']}",
        "email:bo@example.com",
        "email:bo@EXAMPLE.com",
        "phone:+14155550100",
        "phone:+1 415 555 0100",
    ):
        response = await api.get(f"{BASE}/{identifier}")
        assert response.status_code == 200, (identifier, response.text)
        assert response.json()["id"] == contact["id"]


async def test_malformed_identifier_is_422_missing_is_404(api: httpx.AsyncClient) -> None:
    for bad in ("id:abc", "email:not-an-email", "phone:12", "foo:bar", "-5"):
        response = await api.get(f"{BASE}/{bad}")
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["data"]["errors"][0]["field"] == "identifier"
    for missing in ("123", "email:nobody@example.com", "phone:+14155550199"):
        response = await api.get(f"{BASE}/{missing}")
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"


async def test_duplicates_are_409_naming_the_field(api: httpx.AsyncClient) -> None:
    first = await create(api, email="dup@example.com", phoneNumber="+14155550101")
    response = await api.post(BASE, json={"email": "dup@example.com"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "DUPLICATE_CONTACT" and body["data"]["field"] == "email"
    assert body["data"]["contactId"] == first["id"]
    response = await api.post(BASE, json={"phoneNumber": "+1 (415) 555-0101"})
    assert response.status_code == 409 and response.json()["data"]["field"] == "phoneNumber"
    other = await create(api, email="other@example.com")
    response = await api.put(f"{BASE}/{other['id']}", json={"email": "dup@example.com"})
    assert response.status_code == 409 and response.json()["data"]["field"] == "email"
    # Setting a contact's own email again is not a duplicate.
    assert (await api.put(f"{BASE}/{first['id']}", json={"email": "dup@example.com"})).status_code == 204
    listed = (await api.get(BASE)).json()
    assert len(listed["data"]) == 2


async def test_same_email_in_two_workspaces_is_fine(api: httpx.AsyncClient, other_tenant: Tenant) -> None:
    await create(api, email="shared@example.com")
    await create(other_tenant.client, email="shared@example.com")


async def test_create_validation(api: httpx.AsyncClient) -> None:
    cases = [
        ({"email": "nope"}, "email"),
        ({"phoneNumber": "12"}, "phoneNumber"),
        ({"gender": "robot"}, "gender"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"firstName": "x" * 201}, "firstName"),
        ({"unknownKey": 1}, "unknownKey"),
        ({"emailOptIn": None}, "emailOptIn"),
    ]
    for body, field in cases:
        response = await api.post(BASE, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["data"]["errors"][0]["field"] == field, response.text
    assert (await api.get(BASE)).json()["data"] == []


async def test_update_is_partial_and_keeps_full_name_in_sync(api: httpx.AsyncClient) -> None:
    contact = await create(api, firstName="Cy", lastName="Old", city="Paris", email="cy@example.com")
    response = await api.put(f"{BASE}/email:cy@example.com", json={"lastName": "New"})
    assert response.status_code == 204 and response.content == b""
    got = (await api.get(f"{BASE}/{contact['id']}")).json()
    assert got["fullName"] == "Cy New" and got["city"] == "Paris" and got["firstName"] == "Cy"
    assert got["updatedAt"] >= contact["updatedAt"]
    await api.put(f"{BASE}/{contact['id']}", json={"firstName": None, "city": None, "subscribed": False})
    got = (await api.get(f"{BASE}/{contact['id']}")).json()
    assert got["fullName"] == "New" and got["city"] is None and got["subscribedAt"] is None
    assert (await api.put(f"{BASE}/{contact['id']}", json={"phoneNumber": "x"})).status_code == 422
    assert (await api.put(f"{BASE}/123", json={"city": "X"})).status_code == 404


async def test_delete(api: httpx.AsyncClient) -> None:
    contact = await create(api, email="gone@example.com")
    await helpers.note(int(contact["id"]), "bye")
    assert (await api.delete(f"{BASE}/{contact['id']}")).status_code == 204
    assert (await api.get(f"{BASE}/{contact['id']}")).status_code == 404
    assert (await api.delete(f"{BASE}/{contact['id']}")).status_code == 404


async def test_upsert_creates_then_updates(api: httpx.AsyncClient) -> None:
    created = await api.post(f"{BASE}/email:up@example.com/upsert", json={"firstName": "Up"})
    assert created.status_code == 200, created.text
    contact = created.json()
    assert contact["email"] == "up@example.com" and contact["firstName"] == "Up"
    updated = await api.post(f"{BASE}/email:up@example.com/upsert", json={"lastName": "Date"})
    assert updated.status_code == 200
    assert updated.json()["id"] == contact["id"] and updated.json()["fullName"] == "Up Date"
    by_phone = await api.post(f"{BASE}/phone:+14155550111/upsert", json={})
    assert by_phone.status_code == 200 and by_phone.json()["phoneNumber"] == "+14155550111"
    assert len((await api.get(BASE)).json()["data"]) == 2
    # An id that does not exist cannot be created; a differing email in the body is refused.
    assert (await api.post(f"{BASE}/id:123/upsert", json={})).status_code == 404
    response = await api.post(f"{BASE}/email:new@example.com/upsert", json={"email": "else@example.com"})
    assert response.status_code == 422 and response.json()["data"]["errors"][0]["field"] == "email"
    assert (await api.post(f"{BASE}/email:bad/upsert", json={})).status_code == 422


async def test_block_and_unblock(api: httpx.AsyncClient) -> None:
    contact = await create(api, email="b@example.com")
    assert (await api.post(f"{BASE}/{contact['id']}/block")).status_code == 204
    blocked_at = (await api.get(f"{BASE}/{contact['id']}")).json()["blockedAt"]
    assert blocked_at
    # Blocking twice keeps the first time.
    assert (await api.post(f"{BASE}/{contact['id']}/block")).status_code == 204
    assert (await api.get(f"{BASE}/{contact['id']}")).json()["blockedAt"] == blocked_at
    assert (await api.post(f"{BASE}/{contact['id']}/unblock")).status_code == 204
    assert (await api.get(f"{BASE}/{contact['id']}")).json()["blockedAt"] is None
    assert (await api.post(f"{BASE}/999/block")).status_code == 404


async def test_notes(api: httpx.AsyncClient) -> None:
    contact = await create(api, email="n@example.com")
    url = f"{BASE}/{contact['id']}/notes"
    first = await api.post(url, json={"text": "first"})
    assert first.status_code == 201, first.text
    assert first.json()["text"] == "first" and first.json()["contactId"] == contact["id"]
    await api.post(url, json={"text": "second"})
    notes = (await api.get(url)).json()
    assert [n["text"] for n in notes] == ["second", "first"]
    full = (await api.get(f"{BASE}/{contact['id']}")).json()
    assert [n["text"] for n in full["contactNotes"]] == ["second", "first"]
    assert (await api.post(url, json={"text": ""})).status_code == 422
    assert (await api.delete(f"{url}/{first.json()['id']}")).status_code == 204
    assert [n["text"] for n in (await api.get(url)).json()] == ["second"]
    assert (await api.delete(f"{url}/{first.json()['id']}")).status_code == 404
    assert (await api.delete(f"{url}/not-an-id")).status_code == 404


async def test_find_by_custom_field(tenant: Tenant) -> None:
    api = tenant.client
    ws = tenant.workspace_id
    score = await helpers.custom_field(ws, "score", "number")
    city = await helpers.custom_field(ws, "home", "shortText")
    a = await create(api, firstName="A")
    b = await create(api, firstName="B")
    await helpers.field_value(int(a["id"]), score.id, "10")
    await helpers.field_value(int(b["id"]), score.id, "11")
    await helpers.field_value(int(b["id"]), city.id, "Hue")
    # The value is read in the field's type: "10.0" is the number 10.
    response = await api.get(
        f"{BASE}/find-by-custom-field", params={"customFieldId": score.id, "value": "10.0"}
    )
    assert response.status_code == 200, response.text
    found = response.json()
    assert isinstance(found, list) and [c["id"] for c in found] == [a["id"]]
    assert found[0]["contactCustomFields"][0]["value"] == "10"
    response = await api.get(
        f"{BASE}/find-by-custom-field", params={"customFieldId": city.id, "value": "Hue"}
    )
    assert [c["id"] for c in response.json()] == [b["id"]]
    bad = await api.get(f"{BASE}/find-by-custom-field", params={"customFieldId": score.id, "value": "ten"})
    assert bad.status_code == 422 and bad.json()["data"]["errors"][0]["field"] == "value"
    missing = await api.get(f"{BASE}/find-by-custom-field", params={"customFieldId": "123", "value": "1"})
    assert missing.status_code == 404
    assert (await api.get(f"{BASE}/find-by-custom-field", params={"value": "1"})).status_code == 422


async def test_find_by_custom_field_caps_at_100(tenant: Tenant) -> None:
    field = await helpers.custom_field(tenant.workspace_id, "vip", "boolean")
    contacts = [helpers.Contact(workspace_id=int(tenant.workspace_id)) for _ in range(105)]
    await helpers.add(*contacts)
    await helpers.add(
        *(
            helpers.ContactCustomField(contact_id=c.id, custom_field_id=field.id, value="true")
            for c in contacts
        )
    )
    response = await tenant.client.get(
        f"{BASE}/find-by-custom-field", params={"customFieldId": field.id, "value": "yes"}
    )
    assert response.status_code == 200 and len(response.json()) == 100


async def test_other_workspace_is_404(api: httpx.AsyncClient, other_tenant: Tenant) -> None:
    contact = await create(api, email="mine@example.com")
    other = other_tenant.client
    for identifier in (contact["id"], "email:mine@example.com"):
        assert (await other.get(f"{BASE}/{identifier}")).status_code == 404
        assert (await other.put(f"{BASE}/{identifier}", json={"city": "X"})).status_code == 404
        assert (await other.delete(f"{BASE}/{identifier}")).status_code == 404
        assert (await other.post(f"{BASE}/{identifier}/block")).status_code == 404
        assert (await other.get(f"{BASE}/{identifier}/notes")).status_code == 404
        assert (await other.post(f"{BASE}/{identifier}/notes", json={"text": "x"})).status_code == 404
    assert (await other.get(BASE)).json() == {"data": [], "pageCount": 0}
    assert (await api.get(f"{BASE}/{contact['id']}")).json()["city"] is None


async def test_nested_objects_match_seed_002(tenant: Tenant) -> None:
    api, ws = tenant.client, tenant.workspace_id
    contact = await create(api, firstName="Nest", email="nest@example.com")
    cid = int(contact["id"])
    field = await helpers.custom_field(ws, "plan", "shortText")
    await helpers.field_value(cid, field.id, "gold")
    vip = await helpers.tag(ws, "vip", cid)
    inbox = await helpers.inbox(ws, "telegram", "TG")
    ci = await helpers.contact_inbox(cid, inbox.id)
    agent = await helpers.user(f"agent-{cid}@example.com", "Agent Smith")
    support = await helpers.team(ws, "Support")
    await helpers.conversation(ws, cid, inbox_id=inbox.id, last_activity_at=helpers.ago(days=2))
    latest = await helpers.conversation(
        ws,
        cid,
        inbox_id=inbox.id,
        assigned_user_id=agent.id,
        assigned_team_id=support.id,
        last_activity_at=helpers.ago(minutes=1),
        additional_attributes={"k": "v"},
    )
    got = (await api.get(f"{BASE}/{cid}")).json()
    Contact.model_validate(got)
    assert got["contactCustomFields"] == [
        {
            "id": got["contactCustomFields"][0]["id"],
            "createdAt": got["contactCustomFields"][0]["createdAt"],
            "updatedAt": got["contactCustomFields"][0]["updatedAt"],
            "value": "gold",
            "contactId": str(cid),
            "customFieldId": str(field.id),
        }
    ]
    assert got["tags"][0]["id"] == str(vip.id) and got["tags"][0]["name"] == "vip"
    assert set(got["tags"][0]) == {
        "id",
        "createdAt",
        "updatedAt",
        "name",
        "deletedAt",
        "folderId",
        "workspaceId",
    }
    (cinbox,) = got["contactInboxes"]
    assert (
        cinbox["id"] == str(ci.id) and cinbox["inboxId"] == str(inbox.id) and cinbox["channel"] == "telegram"
    )
    assert set(cinbox["inbox"]) == {
        "id",
        "createdAt",
        "updatedAt",
        "name",
        "channel",
        "sourceId",
        "workspaceId",
        "status",
    }
    conv = got["conversation"]
    assert conv["id"] == str(latest.id)
    assert conv["assignedUserId"] == str(agent.id) and conv["assignedUser"]["name"] == "Agent Smith"
    assert set(conv["assignedUser"]) == {
        "id",
        "createdAt",
        "updatedAt",
        "name",
        "email",
        "emailVerified",
        "image",
        "isAnonymous",
    }
    assert conv["assignedInboxTeamId"] == str(support.id) and conv["assignedInboxTeam"]["name"] == "Support"
    assert conv["inbox"]["name"] == "TG" and conv["additionalAttributes"] == {"k": "v"}
    seed_keys = {
        "id",
        "createdAt",
        "updatedAt",
        "botEnabled",
        "botResumeAt",
        "archivedAt",
        "additionalAttributes",
        "contactLastReadAt",
        "agentLastReadAt",
        "lastActivityAt",
        "followed",
        "workspaceId",
        "contactId",
        "adminRepliedAt",
        "contactRepliedAt",
        "aiContextLastMessageId",
        "assignedUserId",
        "assignedInboxTeamId",
        "assignedUser",
        "assignedInboxTeam",
        "inbox",
    }
    assert set(conv) == seed_keys
    seed_contact_keys = {
        "id",
        "createdAt",
        "updatedAt",
        "avatar",
        "phoneNumber",
        "email",
        "emailVerified",
        "emailOptIn",
        "firstName",
        "lastName",
        "fullName",
        "lastReadAt",
        "ref",
        "country",
        "state",
        "city",
        "location",
        "locale",
        "timezone",
        "subscribedAt",
        "broadcastSubscribedAt",
        "blockedAt",
        "workspaceId",
        "contactCustomFields",
        "tags",
        "contactNotes",
        "contactInboxes",
        "conversation",
    }
    assert seed_contact_keys <= set(got)
    # The list returns the very same object.
    listed = (await api.get(BASE)).json()["data"]
    assert listed == [got]


async def test_scopes(tenant: Tenant, app: object) -> None:
    from chatbotx.kit import db
    from chatbotx.workspaces.service import create_token

    async with db.get_database().sessionmaker() as session:
        _, plain = await create_token(session, int(tenant.workspace_id), ["contacts.list"])
        await db.commit(session)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {plain}"},
    ) as reader:
        assert (await reader.get(BASE)).status_code == 200
        assert (await reader.post(BASE, json={})).status_code == 403


async def test_anonymous_is_401(anon: httpx.AsyncClient) -> None:
    assert (await anon.get(BASE)).status_code == 401
