"""listContacts: keyword, sort, paging, perPage cap, channels/inboxIds, the response shape and no N+1."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from chatbotx.contacts.schemas import Contact as ContactOut
from chatbotx.kit.pagination import Page
from chatbotx.models import Contact, ContactCustomField, ContactInbox, ContactNote, ContactTag, Conversation
from tests.conftest import Tenant, statements_of_this_task
from tests.contacts import helpers

BASE = "/api/v1/contacts"


async def first_names(api: httpx.AsyncClient, **params: Any) -> list[str | None]:
    response = await api.get(BASE, params=params)
    assert response.status_code == 200, response.text
    return [c["firstName"] for c in response.json()["data"]]


async def test_keyword_matches_names_email_and_phone(tenant: Tenant) -> None:
    ws = tenant.workspace_id
    await helpers.contact(
        ws, first_name="Ann", last_name="Lee", email="ann@corp.com", phone_number="+84901234567"
    )
    await helpers.contact(
        ws, first_name="Bob", last_name="Ng_x", email="bob@mail.com", phone_number="+14155550100"
    )
    await helpers.contact(ws, first_name="100%", last_name="Real")
    api = tenant.client
    assert await first_names(api, keyword="ANN") == ["Ann"]
    assert await first_names(api, keyword="ann lee") == ["Ann"]  # the full name
    assert await first_names(api, keyword="ng_x") == ["Bob"]
    assert await first_names(api, keyword="MAIL.COM") == ["Bob"]
    assert await first_names(api, keyword="+1415") == ["Bob"]
    assert await first_names(api, keyword="+84 90 123") == ["Ann"]
    # LIKE wildcards are literal.
    assert await first_names(api, keyword="%") == ["100%"]
    assert await first_names(api, keyword="_") == ["Bob"]
    assert await first_names(api, keyword="nobody") == []


async def test_sort(tenant: Tenant) -> None:
    ws = tenant.workspace_id
    now = dt.datetime.now(dt.UTC)
    for index, name in enumerate(["Cid", "Abe", "Bea"]):
        await helpers.contact(ws, first_name=name, created_at=now - dt.timedelta(minutes=index))
    api = tenant.client
    assert await first_names(api) == ["Cid", "Abe", "Bea"]  # newest first by default
    assert await first_names(api, sort=json.dumps([{"id": "firstName", "desc": False}])) == [
        "Abe",
        "Bea",
        "Cid",
    ]
    assert await first_names(api, sort=json.dumps([{"id": "firstName", "desc": True}])) == [
        "Cid",
        "Bea",
        "Abe",
    ]
    assert await first_names(api, sort=json.dumps([{"id": "createdAt"}])) == ["Bea", "Abe", "Cid"]
    for bad in ("nope", json.dumps([{"id": "password"}]), json.dumps([{"id": "email", "desc": "yes"}])):
        response = await api.get(BASE, params={"sort": bad})
        assert response.status_code == 422 and response.json()["data"]["errors"][0]["field"] == "sort"


async def test_paging_and_page_count(tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    now = dt.datetime.now(dt.UTC)
    await helpers.add(
        *(
            Contact(workspace_id=ws, first_name=f"n{i:02}", created_at=now - dt.timedelta(seconds=i))
            for i in range(7)
        )
    )
    api = tenant.client
    pages = []
    for page in (1, 2, 3):
        body = (await api.get(BASE, params={"page": page, "perPage": 3})).json()
        assert body["pageCount"] == 3
        pages.append([c["firstName"] for c in body["data"]])
    assert pages == [["n00", "n01", "n02"], ["n03", "n04", "n05"], ["n06"]]
    assert (await api.get(BASE, params={"page": 4, "perPage": 3})).json() == {"data": [], "pageCount": 3}
    assert len((await api.get(BASE)).json()["data"]) == 7
    for bad in ({"page": 0}, {"perPage": 0}, {"page": "x"}):
        assert (await api.get(BASE, params=bad)).status_code == 422


async def test_per_page_is_capped_at_50(tenant: Tenant) -> None:
    ws = int(tenant.workspace_id)
    await helpers.add(*(Contact(workspace_id=ws, first_name=f"c{i}") for i in range(53)))
    body = (await tenant.client.get(BASE, params={"perPage": 500})).json()
    assert len(body["data"]) == 50 and body["pageCount"] == 2
    assert len((await tenant.client.get(BASE)).json()["data"]) == 20


async def test_channels_and_inbox_ids(tenant: Tenant, other_tenant: Tenant) -> None:
    ws = tenant.workspace_id
    tg = await helpers.contact(ws, first_name="Tg")
    wa = await helpers.contact(ws, first_name="Wa")
    await helpers.contact(ws, first_name="None")
    tg_inbox = await helpers.inbox(ws, "telegram")
    wa_inbox = await helpers.inbox(ws, "whatsapp")
    await helpers.contact_inbox(tg.id, tg_inbox.id, "1")
    await helpers.contact_inbox(wa.id, wa_inbox.id, "2")
    api = tenant.client
    assert await first_names(api, channels="telegram") == ["Tg"]
    assert (await api.get(f"{BASE}?channels[]=whatsapp")).json()["data"][0]["firstName"] == "Wa"
    both = (await api.get(f"{BASE}?channels=telegram&channels=whatsapp")).json()["data"]
    assert sorted(c["firstName"] for c in both) == ["Tg", "Wa"]
    both = (await api.get(f"{BASE}?channels[]=telegram&channels[]=whatsapp")).json()["data"]
    assert len(both) == 2
    assert await first_names(api, channels="zalo") == []
    assert await first_names(api, inboxIds=str(wa_inbox.id)) == ["Wa"]
    assert (await api.get(f"{BASE}?inboxIds[]={tg_inbox.id}")).json()["data"][0]["firstName"] == "Tg"
    assert len((await api.get(f"{BASE}?inboxIds={tg_inbox.id},{wa_inbox.id}")).json()["data"]) == 2
    # Channel and inbox together must both hold.
    assert await first_names(api, channels="telegram", inboxIds=str(wa_inbox.id)) == []
    bad = await api.get(BASE, params={"channels": "fax"})
    assert bad.status_code == 422 and bad.json()["data"]["errors"][0]["field"].startswith("channels")
    bad = await api.get(BASE, params={"inboxIds": "abc"})
    assert bad.status_code == 422 and bad.json()["data"]["errors"][0]["field"] == "inboxIds"
    theirs = await helpers.inbox(other_tenant.workspace_id, "telegram")
    assert await first_names(api, inboxIds=str(theirs.id)) == []


async def test_list_matches_the_declared_response_model(tenant: Tenant) -> None:
    ws = tenant.workspace_id
    contact = await helpers.contact(ws, first_name="Shape", email="s@example.com")
    inbox = await helpers.inbox(ws)
    await helpers.contact_inbox(contact.id, inbox.id)
    await helpers.conversation(ws, contact.id, inbox_id=inbox.id)
    await helpers.tag(ws, "t", contact.id)
    await helpers.note(contact.id, "hello")
    body = (await tenant.client.get(BASE)).json()
    page = Page[ContactOut].model_validate(body)
    # Round trip through the model gives the same JSON: the fast path and the model agree.
    assert page.model_dump(mode="json", by_alias=True) == body


async def _seed_rich_contacts(workspace_id: int, count: int) -> None:
    """`count` contacts, each with a field value, a tag, a note, an inbox identity and 2 conversations."""
    field = await helpers.custom_field(workspace_id, "plan", "shortText")
    tag = await helpers.tag(workspace_id, "vip")
    inbox = await helpers.inbox(workspace_id)
    contacts = [Contact(workspace_id=workspace_id, first_name=f"p{i}") for i in range(count)]
    await helpers.add(*contacts)
    rows: list[Any] = []
    for index, c in enumerate(contacts):
        rows += [
            ContactCustomField(contact_id=c.id, custom_field_id=field.id, value="gold"),
            ContactTag(contact_id=c.id, tag_id=tag.id),
            ContactNote(contact_id=c.id, text="note"),
            ContactInbox(contact_id=c.id, inbox_id=inbox.id, source_id=f"s{index}"),
            Conversation(workspace_id=workspace_id, contact_id=c.id, inbox_id=inbox.id),
            Conversation(workspace_id=workspace_id, contact_id=c.id, inbox_id=inbox.id),
        ]
    await helpers.add(*rows)


async def test_no_n_plus_one(tenant: Tenant) -> None:
    await _seed_rich_contacts(int(tenant.workspace_id), 50)
    api = tenant.client
    await api.get(BASE, params={"perPage": 1})  # warm the token cache
    counts = {}
    for per_page in (5, 50):
        with statements_of_this_task() as statements:
            response = await api.get(BASE, params={"perPage": per_page})
        assert response.status_code == 200
        data = response.json()["data"]
        assert len(data) == per_page
        assert all(
            c["tags"] and c["contactNotes"] and c["contactInboxes"] and c["conversation"] for c in data
        )
        assert all(c["contactCustomFields"] for c in data)
        counts[per_page] = len(statements)
    assert counts[5] == counts[50], counts
    # count + page + custom fields + tags + notes + contact inboxes + latest conversations
    assert counts[50] <= 7, counts


async def test_page_count_follows_writes_made_elsewhere(tenant: Tenant) -> None:
    """Totals are cached briefly, yet a page that is not full always tells the exact count."""
    ws = int(tenant.workspace_id)
    api = tenant.client
    await helpers.add(*(Contact(workspace_id=ws, first_name=f"w{i}") for i in range(3)))
    assert (await api.get(BASE, params={"perPage": 2})).json()["pageCount"] == 2
    await helpers.add(
        *(Contact(workspace_id=ws, first_name=f"x{i}") for i in range(3))
    )  # not through the API
    body = (await api.get(BASE, params={"perPage": 2, "page": 3})).json()
    assert len(body["data"]) == 2 and body["pageCount"] >= 3
    body = (await api.get(BASE, params={"perPage": 50})).json()
    assert len(body["data"]) == 6 and body["pageCount"] == 1
    # Writes through the API forget the cached totals at once.
    created = await api.post(BASE, json={"firstName": "new"})
    assert created.status_code == 200
    assert (await api.get(BASE, params={"perPage": 1})).json()["pageCount"] == 7
    assert (await api.delete(f"{BASE}/{created.json()['id']}")).status_code == 204
    assert (await api.get(BASE, params={"perPage": 1})).json()["pageCount"] == 6
