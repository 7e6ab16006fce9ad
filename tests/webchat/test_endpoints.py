"""The webchat Client API over HTTP: the contract's shapes, visitors, conversations, messages, isolation,
CORS, body and content limits, and that the admin OpenAPI document does not list it."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from chatbotx.kit import db
from chatbotx.models import ContactNote, Event
from tests.conftest import Tenant
from tests.webchat.conftest import Webchat, make_webchat

ORIGIN = "https://shop.example.com"


async def visitor(public: httpx.AsyncClient, webchat: Webchat, **body: Any) -> dict[str, Any]:
    response = await public.post(f"{webchat.base}/contacts", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def conversation(public: httpx.AsyncClient, webchat: Webchat, source_id: str) -> dict[str, Any]:
    response = await public.post(f"{webchat.contact(source_id)}/conversations", json={})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def say(
    public: httpx.AsyncClient,
    webchat: Webchat,
    source_id: str,
    conversation_id: str,
    content: str,
    **extra: Any,
) -> httpx.Response:
    url = f"{webchat.conversation(source_id, conversation_id)}/messages"
    return await public.post(url, json={"content": content, **extra})


async def test_channel_create_gives_identifier_snippet_and_key(api: httpx.AsyncClient) -> None:
    webchat = await make_webchat(api)
    channel = webchat.channel
    assert channel["channel"] == "webchat"
    assert len(webchat.identifier) >= 24 and webchat.identifier not in (channel["id"],)
    assert channel["embedScript"] == (
        f'<script src="http://127.0.0.1:8000/widget/chatbotx-widget.js" '
        f'data-inbox-identifier="{webchat.identifier}" async></script>'
    )
    assert channel["config"] == {
        "websiteUrl": "https://shop.example.com",
        "widgetColor": "#aa3300",
        "greeting": "Hi!",
        "hmacMandatory": False,
    }
    # The identity key is secret at rest (listed, encrypted) but shown to admins so they can sign ids.
    assert channel["secretKeys"] == ["hmacToken", "identitySecret"]
    assert len(webchat.hmac_token) == 48
    again = (await api.get(f"/api/v1/channels/{channel['id']}")).json()
    assert again["hmacToken"] == webchat.hmac_token and again["inboxIdentifier"] == webchat.identifier
    # Rotating: config.hmacToken null makes a new one; the identifier stays.
    rotated = (
        await api.put(f"/api/v1/channels/{channel['id']}", json={"config": {"hmacToken": None}})
    ).json()
    assert rotated["hmacToken"] != webchat.hmac_token and rotated["inboxIdentifier"] == webchat.identifier
    assert "identitySecret" not in str(rotated["config"])


async def test_channel_config_is_validated(api: httpx.AsyncClient) -> None:
    cases = [
        ({}, "config.websiteUrl"),
        ({"websiteUrl": "javascript:alert(1)"}, "config.websiteUrl"),
        ({"websiteUrl": "https://a.example", "widgetColor": "red"}, "config.widgetColor"),
        ({"websiteUrl": "https://a.example", "greeting": "x" * 501}, "config.greeting"),
        ({"websiteUrl": "https://a.example", "hmacMandatory": "yes"}, "config.hmacMandatory"),
        ({"websiteUrl": "https://a.example", "colour": "#ffffff"}, "config.colour"),
        ({"websiteUrl": "https://a.example", "hmacToken": "short"}, "config.hmacToken"),
    ]
    for config, field in cases:
        response = await api.post(
            "/api/v1/channels", json={"name": "w", "channel": "webchat", "config": config}
        )
        assert response.status_code == 422, (config, response.text)
        assert response.json()["data"]["errors"][0]["field"] == field
    assert (await api.get("/api/v1/channels", params={"channel": "webchat"})).json()["data"] == []


async def test_widget_config(webchat: Webchat, public: httpx.AsyncClient) -> None:
    response = await public.get(webchat.base)
    assert response.status_code == 200
    assert response.json() == {
        "identifier": webchat.identifier,
        "name": "Website",
        "websiteUrl": "https://shop.example.com",
        "widgetColor": "#aa3300",
        "greeting": "Hi!",
        "hmacMandatory": False,
    }
    missing = await public.get("/public/api/v1/inboxes/not-an-inbox")
    assert missing.status_code == 404 and missing.json()["code"] == "INBOX_NOT_FOUND"
    assert missing.headers["access-control-allow-origin"] == "*"


async def test_disabled_inbox_is_not_found(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await api.put(f"/api/v1/channels/{webchat.channel['id']}", json={"status": "disabled"})
    response = await public.get(webchat.base)
    assert response.status_code == 404 and response.json()["code"] == "INBOX_NOT_FOUND"


async def test_visitor_conversation_and_messages(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    contact = await visitor(public, webchat, name="Ada Lovelace")
    assert set(contact) >= {"source_id", "pubsub_token", "id", "name", "email"}
    assert contact["name"] == "Ada Lovelace" and contact["email"] is None
    assert isinstance(contact["id"], str) and len(contact["pubsub_token"]) >= 32
    source = contact["source_id"]

    conv = await conversation(public, webchat, source)
    assert conv["status"] == "open" and conv["inbox_id"] == webchat.channel["id"] and conv["messages"] == []

    sent = await say(public, webchat, source, conv["id"], "Hello, is anyone there?", echo_id="tmp-1")
    assert sent.status_code == 200
    message = sent.json()
    assert set(message) == {
        "id",
        "content",
        "message_type",
        "content_type",
        "content_attributes",
        "created_at",
        "conversation_id",
        "attachments",
        "sender",
        "echo_id",
        "status",
    }
    assert message["message_type"] == 0 and message["content_type"] == "text"
    assert message["echo_id"] == "tmp-1" and message["content_attributes"] == {}
    assert message["conversation_id"] == conv["id"] and isinstance(message["id"], str)
    assert message["sender"] == {"id": contact["id"], "type": "contact", "name": None}
    assert isinstance(message["created_at"], int) and message["created_at"] > 1_700_000_000

    # The agents see it as any channel's incoming message, and answer with the ordinary reply.
    agent_view = (await api.get(f"/api/v1/conversations/{conv['id']}/messages")).json()["data"]
    assert [(m["direction"], m["content"]) for m in agent_view] == [("incoming", "Hello, is anyone there?")]
    reply = await api.post(
        f"/api/v1/conversations/{conv['id']}/messages", json={"text": "Yes, how can I help?"}
    )
    assert reply.status_code == 201
    note = await api.post(f"/api/v1/conversations/{conv['id']}/notes", json={"text": "VIP, be nice"})
    assert note.status_code == 201

    listed = (await public.get(f"{webchat.conversation(source, conv['id'])}/messages")).json()
    assert [(m["message_type"], m["content"]) for m in listed] == [
        (0, "Hello, is anyone there?"),
        (1, "Yes, how can I help?"),
    ]
    assert listed[1]["sender"]["type"] == "user" and listed[1]["sender"]["name"] == "Owner"  # never an email
    one = (await public.get(webchat.conversation(source, conv["id"]))).json()
    assert [m["content"] for m in one["messages"]] == ["Hello, is anyone there?", "Yes, how can I help?"]
    convs = (await public.get(f"{webchat.contact(source)}/conversations")).json()
    assert [c["id"] for c in convs] == [conv["id"]]


async def test_messages_page_backwards_with_before(webchat: Webchat, public: httpx.AsyncClient) -> None:
    source = (await visitor(public, webchat))["source_id"]
    conv = await conversation(public, webchat, source)
    ids = []
    for i in range(12):
        ids.append((await say(public, webchat, source, conv["id"], f"m{i}")).json()["id"])
    url = f"{webchat.conversation(source, conv['id'])}/messages"
    newest = (await public.get(url)).json()
    assert [m["content"] for m in newest] == [f"m{i}" for i in range(12)]
    older = (await public.get(url, params={"before": ids[5]})).json()
    assert [m["content"] for m in older] == [f"m{i}" for i in range(5)]
    bad = await public.get(url, params={"before": "abc"})
    assert bad.status_code == 422 and bad.json()["data"]["errors"][0]["field"] == "before"


async def test_same_echo_id_is_one_message(webchat: Webchat, public: httpx.AsyncClient) -> None:
    source = (await visitor(public, webchat))["source_id"]
    conv = await conversation(public, webchat, source)
    first = (await say(public, webchat, source, conv["id"], "once", echo_id="e-1")).json()
    again = (await say(public, webchat, source, conv["id"], "once", echo_id="e-1")).json()
    assert first == again
    listed = (await public.get(f"{webchat.conversation(source, conv['id'])}/messages")).json()
    assert len(listed) == 1


async def test_reload_keeps_the_conversation(webchat: Webchat, public: httpx.AsyncClient) -> None:
    """A page load later the widget has only the stored source id: it finds the same contact, conversation
    and messages again."""
    contact = await visitor(public, webchat)
    conv = await conversation(public, webchat, contact["source_id"])
    await say(public, webchat, contact["source_id"], conv["id"], "before reload")
    again = (await public.get(webchat.contact(contact["source_id"]))).json()
    assert again == contact
    convs = (await public.get(f"{webchat.contact(contact['source_id'])}/conversations")).json()
    assert [c["id"] for c in convs] == [conv["id"]]
    messages = (await public.get(f"{webchat.conversation(contact['source_id'], conv['id'])}/messages")).json()
    assert [m["content"] for m in messages] == ["before reload"]


async def test_resolve_and_reopen_by_writing(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    source = (await visitor(public, webchat))["source_id"]
    conv = await conversation(public, webchat, source)
    url = webchat.conversation(source, conv["id"])
    resolved = await public.post(f"{url}/toggle_status")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert (await api.get(f"/api/v1/conversations/{conv['id']}")).json()["status"] == "resolved"
    await say(public, webchat, source, conv["id"], "one more thing")
    assert (await api.get(f"/api/v1/conversations/{conv['id']}")).json()["status"] == "open"
    async with db.get_database().sessionmaker() as session:
        types = list(
            (
                await session.scalars(
                    select(Event.type)
                    .where(Event.workspace_id == int(webchat.channel["workspaceId"]))
                    .order_by(Event.id)
                )
            ).all()
        )
    # Created, resolved by the visitor, then the message reopened it: the same events as other channels.
    assert types.count("conversation.created") == 1
    assert types.count("conversation.status_changed") == 2
    assert types[-3:] == ["message.created", "conversation.status_changed", "conversation.updated"]


async def test_last_seen_and_typing(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    source = (await visitor(public, webchat))["source_id"]
    conv = await conversation(public, webchat, source)
    url = webchat.conversation(source, conv["id"])
    seen = (await public.post(f"{url}/update_last_seen")).json()
    assert seen["contact_last_seen_at"] > 0
    assert (await public.post(f"{url}/toggle_typing", json={"typing_status": "on"})).status_code == 200
    assert (await public.post(f"{url}/toggle_typing", json={"typing_status": "off"})).status_code == 200
    bad = await public.post(f"{url}/toggle_typing", json={"typing_status": "maybe"})
    assert bad.status_code == 422
    async with db.get_database().sessionmaker() as session:
        rows = (
            await session.execute(
                select(Event.type, Event.payload)
                .where(Event.workspace_id == int(webchat.channel["workspaceId"]), Event.type.like("%typing%"))
                .order_by(Event.id)
            )
        ).all()
    assert [r.type for r in rows] == ["conversation.typing_on", "conversation.typing_off"]
    assert rows[0].payload["conversationId"] == conv["id"] and rows[0].payload["sender"]["type"] == "contact"


async def test_leave_an_email(webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    contact = await visitor(public, webchat)
    url = webchat.contact(contact["source_id"])
    bad = await public.patch(url, json={"email": "not an email"})
    assert bad.status_code == 422 and bad.json()["code"] == "INVALID_REQUEST_DATA"
    updated = await public.patch(url, json={"email": "Ada@Example.COM", "name": "Ada"})
    assert updated.status_code == 200
    assert updated.json()["email"] == "Ada@example.com" and updated.json()["name"] == "Ada"
    agent_view = (await api.get(f"/api/v1/contacts/{contact['id']}")).json()
    assert agent_view["email"] == "Ada@example.com"
    unknown = await public.patch(url, json={"email_address": "x@example.com"})
    assert unknown.status_code == 422


async def test_an_address_of_another_contact_is_noted_not_taken(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    known = await api.post("/api/v1/contacts", json={"firstName": "Grace", "email": "grace@example.com"})
    assert known.status_code == 200, known.text
    contact = await visitor(public, webchat)
    response = await public.patch(webchat.contact(contact["source_id"]), json={"email": "grace@example.com"})
    assert response.status_code == 200 and response.json()["email"] is None
    async with db.get_database().sessionmaker() as session:
        notes = list(
            (
                await session.scalars(
                    select(ContactNote.text).where(ContactNote.contact_id == int(contact["id"]))
                )
            ).all()
        )
    assert notes == [
        "The webchat visitor left the email address grace@example.com, which another contact has."
    ]


async def test_visitors_and_inboxes_are_isolated(
    tenant: Tenant, other_tenant: Tenant, public: httpx.AsyncClient
) -> None:
    mine = await make_webchat(tenant.client)
    theirs = await make_webchat(other_tenant.client)
    a = await visitor(public, mine)
    b = await visitor(public, mine)
    conv_a = await conversation(public, mine, a["source_id"])
    await say(public, mine, a["source_id"], conv_a["id"], "private to a")
    # Another visitor of the same inbox: not a's conversation, not a's messages.
    for path in ("", "/messages"):
        response = await public.get(mine.conversation(b["source_id"], conv_a["id"]) + path)
        assert response.status_code == 404 and response.json()["code"] == "CONVERSATION_NOT_FOUND"
    assert (await say(public, mine, b["source_id"], conv_a["id"], "intrude")).status_code == 404
    assert (await public.get(f"{mine.contact(b['source_id'])}/conversations")).json() == []
    # a's source id under another inbox (another workspace's) names nobody.
    response = await public.get(theirs.contact(a["source_id"]))
    assert response.status_code == 404 and response.json()["code"] == "CONTACT_NOT_FOUND"
    response = await public.get(theirs.conversation(a["source_id"], conv_a["id"]))
    assert response.status_code == 404


async def test_limits_on_bodies_and_content(webchat: Webchat, public: httpx.AsyncClient) -> None:
    source = (await visitor(public, webchat))["source_id"]
    conv = await conversation(public, webchat, source)
    too_long = await say(public, webchat, source, conv["id"], "x" * 5001)
    assert too_long.status_code == 422 and too_long.json()["data"]["errors"][0]["field"] == "content"
    empty = await say(public, webchat, source, conv["id"], "   ")
    assert empty.status_code == 422
    huge = await public.post(
        f"{webchat.conversation(source, conv['id'])}/messages",
        content=b'{"content": "' + b"x" * 40_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and huge.json()["code"] == "PAYLOAD_TOO_LARGE"
    # The longest message in 4-byte characters fits the body limit (sent as a browser's JSON.stringify does).
    widest = await public.post(
        f"{webchat.conversation(source, conv['id'])}/messages",
        content=b'{"content": "' + ("\U0001f600" * 5000).encode() + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert widest.status_code == 200, widest.text
    assert huge.headers["access-control-allow-origin"] == "*"
    malformed = await public.post(
        f"{webchat.base}/contacts", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["code"] == "MALFORMED_JSON"
    nul = await say(public, webchat, source, conv["id"], "a\x00b")
    assert nul.status_code == 422


async def test_cors_preflight_from_the_customer_site(webchat: Webchat, public: httpx.AsyncClient) -> None:
    response = await public.options(
        f"{webchat.base}/contacts",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"].lower()
    # The workspace API is not opened to other origins.
    admin = await public.options(
        "/api/v1/channels", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in admin.headers


async def test_public_routes_stay_out_of_the_admin_openapi(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/openapi.json")).json()
    assert not [path for path in document["paths"] if "public" in path or "inboxes" in path]
    channel = document["components"]["schemas"]["Channel"]["properties"]
    assert {"inboxIdentifier", "embedScript", "hmacToken"} <= set(channel)


async def test_an_agents_file_reaches_the_visitor_as_a_signed_link(
    webchat: Webchat, public: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    source = (await visitor(public, webchat))["source_id"]
    conv = await conversation(public, webchat, source)
    pdf = b"%PDF-1.4 the invoice"
    upload = await api.post("/api/v1/files", files={"file": ("invoice.pdf", pdf, "application/pdf")})
    assert upload.status_code == 201, upload.text
    reply = await api.post(
        f"/api/v1/conversations/{conv['id']}/messages",
        json={"text": "Here it is", "files": [upload.json()["id"]]},
    )
    assert reply.status_code == 201, reply.text

    listed = (await public.get(f"{webchat.conversation(source, conv['id'])}/messages")).json()
    (attachment,) = listed[-1]["attachments"]
    assert attachment["name"] == "invoice.pdf" and attachment["file_type"] == "file"
    assert "url" not in attachment  # the agent API's address needs a token
    link = httpx.URL(attachment["data_url"])
    fetched = await public.get(link.path, params=dict(link.params))  # no token: the signature is the key
    assert fetched.status_code == 200 and fetched.content == pdf
    forged = await public.get(link.path, params={**dict(link.params), "sig": "0" * 64})
    assert forged.status_code in (403, 404)
