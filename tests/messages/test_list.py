from __future__ import annotations

from tests.conftest import Tenant
from tests.contact_tags.factories import make_contact, make_conversation, make_inbox, make_messages

MESSAGE_KEYS = {
    "id", "createdAt", "updatedAt", "conversationId", "contactId", "inboxId", "direction", "private",
    "senderType", "senderId", "contentType", "content", "attachments", "contentAttributes", "status",
    "providerMessageId", "error",
}  # fmt: skip


def messages_url(contact_id: int) -> str:
    return f"/api/v1/contacts/id:{contact_id}/messages"


async def test_cursor_paging_walks_every_message_once_newest_first(tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id)
    first = await make_conversation(contact, inbox)
    second = await make_conversation(contact, None)
    created = await make_messages(first, 30) + await make_messages(second, 23)
    bystander = await make_contact(tenant.workspace_id)
    await make_messages(await make_conversation(bystander, inbox), 5)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"perPage": 7} | ({"cursor": cursor} if cursor else {})
        response = await api.get(messages_url(contact.id), params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"data", "nextCursor"}
        assert len(page["data"]) <= 7
        seen.extend(item["id"] for item in page["data"])
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 8  # 53 messages, 7 a page
    assert len(seen) == len(set(seen)) == 53
    assert set(seen) == {str(m.id) for m in created}
    assert [int(i) for i in seen] == sorted((int(i) for i in seen), reverse=True)


async def test_page_size_defaults_to_20_and_is_capped_at_50(tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    await make_messages(await make_conversation(contact, None), 55)
    default = (await api.get(messages_url(contact.id))).json()
    assert len(default["data"]) == 20 and default["nextCursor"]
    capped = (await api.get(messages_url(contact.id), params={"perPage": 500})).json()
    assert len(capped["data"]) == 50
    rest = (
        await api.get(messages_url(contact.id), params={"perPage": 50, "cursor": capped["nextCursor"]})
    ).json()
    assert len(rest["data"]) == 5 and rest["nextCursor"] is None
    exact = (
        await api.get(messages_url(contact.id), params={"perPage": 5, "cursor": capped["nextCursor"]})
    ).json()
    assert len(exact["data"]) == 5 and exact["nextCursor"] is None


async def test_no_messages_is_an_empty_page(tenant: Tenant) -> None:
    contact = await make_contact(tenant.workspace_id)
    response = await tenant.client.get(messages_url(contact.id))
    assert response.status_code == 200
    assert response.json() == {"data": [], "nextCursor": None}


async def test_bad_paging_parameters_are_422(tenant: Tenant) -> None:
    api = tenant.client
    contact = await make_contact(tenant.workspace_id)
    for params in ({"cursor": "not-a-cursor!"}, {"cursor": "LTE"}, {"perPage": 0}, {"perPage": "x"}):
        response = await api.get(messages_url(contact.id), params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["code"] == "INVALID_REQUEST_DATA"


async def test_get_one_message(tenant: Tenant) -> None:
    api = tenant.client
    inbox = await make_inbox(tenant.workspace_id)
    contact = await make_contact(tenant.workspace_id, phone_number="+16502530000")
    conversation = await make_conversation(contact, inbox)
    (message,) = await make_messages(conversation, 1)
    response = await api.get(f"/api/v1/contacts/phone:+1 650 253 0000/messages/{message.id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == MESSAGE_KEYS
    assert body["id"] == str(message.id)
    assert body["conversationId"] == str(conversation.id) and body["inboxId"] == str(inbox.id)
    assert body["contactId"] == str(contact.id) and body["senderId"] == str(contact.id)
    assert (body["direction"], body["senderType"], body["status"]) == ("incoming", "contact", "delivered")
    assert (body["content"], body["attachments"], body["contentAttributes"]) == ("message 0", [], {})
    listed = (await api.get(messages_url(contact.id))).json()["data"]
    assert listed == [body]


async def test_other_contact_or_workspace_message_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    api = tenant.client
    mine = await make_contact(tenant.workspace_id)
    neighbour = await make_contact(tenant.workspace_id)
    (neighbours_message,) = await make_messages(await make_conversation(neighbour, None), 1)
    theirs = await make_contact(other_tenant.workspace_id)
    (their_message,) = await make_messages(await make_conversation(theirs, None), 1)

    for path in (
        f"{messages_url(mine.id)}/{neighbours_message.id}",
        f"{messages_url(mine.id)}/{their_message.id}",
        f"{messages_url(theirs.id)}/{their_message.id}",
        f"{messages_url(mine.id)}/not-an-id",
        f"{messages_url(mine.id)}/0",
        messages_url(theirs.id),
    ):
        response = await api.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "NOT_FOUND"
    assert (await api.get("/api/v1/contacts/id:x/messages")).status_code == 422
