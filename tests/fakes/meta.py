"""A fake Meta Graph API server: the WhatsApp Cloud API, Messenger (Pages) and Instagram (accounts) as nodes.

Real paths, Bearer (or ?access_token=) auth, success and error bodies, media lookup and authenticated
download, and builders of real-shaped webhooks signed with X-Hub-Signature-256 (HMAC-SHA256 of the raw body
with the app secret).

    with serve_fake_meta() as fake:                     # uvicorn on a free 127.0.0.1 port, in a thread
        number = fake.add_whatsapp_number(access_token="EAAG...", app_secret="s3cret")
        user = number.user("16505551234", "Sheena Nelson")
        payload = number.webhook(number.text(user, "hi"), number.image(user, b"\\xff\\xd8jpeg"))
        await fake.deliver(url, payload, app_secret=number.app_secret, client=app_client)
        fake.fail_next(1, 131047)                       # the next send answers the re-engagement error
        fake.sent()[-1].json                            # the exact body our adapter posted

    page = fake.add_page(app_secret="s3cret", instagram=True)   # Messenger; page.instagram via the Page
    psid = page.user("24080000000000001")
    payload = page.webhook(page.text(psid, "hi"), page.read(psid))  # object "page", entry[].messaging[]
    account = fake.add_instagram_account()               # Instagram Login (its own token, GET /me)

Formats: reference/channels.md sections 2-4 (pywa's and courier's recorded payloads, Meta's error envelope).
Messenger and Instagram attachments live on a fake CDN (/cdn/{id}, public signed links, no token).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.serving import serve_asgi

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNED = object()  # deliver(): sign with the app secret (the default)
_VERSION = re.compile(r"^v\d+\.\d+$")
_PHONE = re.compile(r"^\+?\d{7,15}$")
ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
DAY = 24 * 3600


@dataclasses.dataclass(frozen=True)
class GraphError:
    """One Graph API error as Meta sends it: HTTP status + the {"error": {...}} envelope fields."""

    status: int
    code: int
    message: str
    type: str = "OAuthException"
    subcode: int | None = None
    details: str | None = None  # error_data.details (WhatsApp errors carry error_data)
    title: str | None = None  # the title used in webhook `errors[]`

    def body(self, details: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if details or self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": details or self.details}
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
        return {"error": error}

    def webhook_error(self) -> dict[str, Any]:
        """The same error as an item of a status webhook's `errors[]`."""
        title = self.title or re.sub(r"^\(#\d+\) ", "", self.message)
        item: dict[str, Any] = {"code": self.code, "title": title, "message": title}
        if self.details:
            item["error_data"] = {"details": self.details}
        item["href"] = ERROR_HREF
        return item


# The errors a test can script (fail_next) or the fake answers by itself; keyed by Graph code or a name.
ERRORS: dict[int | str, GraphError] = {
    131047: GraphError(
        400,
        131047,
        "(#131047) Re-engagement message",
        details="Message failed to send because more than 24 hours have passed since the customer last "
        "replied to this number.",
        title="Re-engagement message",
    ),
    131026: GraphError(
        400,
        131026,
        "(#131026) Message Undeliverable",
        details="Message Undeliverable.",
        title="Message undeliverable",
    ),
    190: GraphError(
        401,
        190,
        "Error validating access token: Session has expired on Friday, 26-Apr-24 06:00:00 PDT. The current "
        "time is Saturday, 27-Apr-24 02:31:10 PDT.",
        subcode=463,
    ),
    130429: GraphError(
        429,
        130429,
        "(#130429) Rate limit hit",
        details="Cloud API message throughput has been reached.",
    ),
    131056: GraphError(
        400,
        131056,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        details="Message failed to send because there were too many messages sent from this phone number "
        "to the same phone number in a short period of time.",
    ),
    80007: GraphError(
        400,
        80007,
        "(#80007) Rate limit issues",
        details="The WhatsApp Business Account has reached its rate limit.",
    ),
    613: GraphError(429, 613, "Calls to this api have exceeded the rate limit."),
    131009: GraphError(
        400, 131009, "(#131009) Parameter value is not valid", details="Parameter value is not valid"
    ),
    131051: GraphError(
        400, 131051, "(#131051) Unsupported message type", details="Message type is not supported."
    ),
    131008: GraphError(
        400, 131008, "(#131008) Required parameter is missing", details="Required parameter is missing"
    ),
    132000: GraphError(
        400, 132000, "(#132000) Number of parameters does not match the expected number of params"
    ),
    132001: GraphError(404, 132001, "(#132001) Template name does not exist in the translation"),
    100: GraphError(400, 100, "(#100) Invalid parameter"),
    368: GraphError(403, 368, "(#368) Temporarily blocked for policies violations"),
    "invalid_token": GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token"),
    "no_token": GraphError(400, 104, "An access token is required to request this resource."),
    "server_error": GraphError(500, 1, "An unknown error occurred"),
    "unavailable": GraphError(503, 2, "An unexpected error has occurred. Please retry your request later."),
}


@dataclasses.dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any  # the decoded JSON body (None when not JSON)
    at: float  # time.time() when received
    node_id: str | None = None
    edge: str | None = None  # "messages", "media", "download", or None for a node GET
    status: int = 200
    response: Any = None
    files: dict[str, tuple[str | None, str | None, bytes]] = dataclasses.field(default_factory=dict)

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        return self.query.get("access_token")


@dataclasses.dataclass
class StoredMedia:
    id: str
    content: bytes
    mime_type: str
    owner: str  # the node id (phone number) it belongs to

    @property
    def sha256(self) -> str:
        return base64.b64encode(hashlib.sha256(self.content).digest()).decode()


@dataclasses.dataclass
class WhatsAppUser:
    wa_id: str
    name: str | None = "Sheena Nelson"
    last_inbound: float | None = None  # when they last wrote (the fake's own 24-hour window)


class GraphNode:
    """A Graph object with an id and the token that may use it; kinds add their edges."""

    kind = "node"

    def __init__(self, fake: MetaGraphFake, node_id: str, access_token: str, app_secret: str):
        self.fake = fake
        self.id = node_id
        self.access_token = access_token
        self.app_secret = app_secret
        self.token_expired = False

    def expire_token(self) -> None:
        """Every later call with this node's token answers 190 (session expired), HTTP 401."""
        self.token_expired = True

    def describe(self, fields: list[str]) -> dict[str, Any]:
        return {"id": self.id}

    def post(self, edge: str, request: Recorded) -> tuple[int, dict[str, Any]]:
        return _graph_error(ERRORS[100], f"Unsupported post request to edge {edge}")


class WhatsAppNumber(GraphNode):
    """A registered WhatsApp business phone number: sends, media, approved templates, webhook builders."""

    kind = "whatsapp_business_phone_number"

    def __init__(
        self,
        fake: MetaGraphFake,
        node_id: str,
        access_token: str,
        app_secret: str,
        *,
        display_phone_number: str,
        verified_name: str,
        waba_id: str,
    ):
        super().__init__(fake, node_id, access_token, app_secret)
        self.display_phone_number = display_phone_number
        self.verified_name = verified_name
        self.waba_id = waba_id
        self.users: dict[str, WhatsAppUser] = {}
        self.undeliverable: set[str] = set()  # wa_ids that are not on WhatsApp: sends answer 131026
        self.enforce_window = False  # free-form sends to users silent for 24 h answer 131047, like Meta
        self.templates: dict[tuple[str, str], dict[str, int]] = {("hello_world", "en_US"): {}}
        self.sent: dict[str, dict[str, Any]] = {}  # wamid -> body we accepted
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------------------ test controls

    def user(self, wa_id: str, name: str | None = "Sheena Nelson") -> WhatsAppUser:
        user = self.users.setdefault(wa_id, WhatsAppUser(wa_id, name))
        user.name = name
        return user

    def add_template(self, name: str, language: str = "en_US", **param_counts: int) -> None:
        """Approve template `name` in `language`; param_counts gives e.g. body=2, header=1."""
        self.templates[(name, language)] = dict(param_counts)

    def wamid(self) -> str:
        raw = f"{self.display_digits}{next(self._ids):06d}{secrets.token_hex(8).upper()}".encode()
        return "wamid." + base64.b64encode(b"HBgL" + raw).decode()

    @property
    def display_digits(self) -> str:
        return re.sub(r"\D", "", self.display_phone_number)

    # ------------------------------------------------------------------------------ Graph API

    def describe(self, fields: list[str]) -> dict[str, Any]:
        full = {
            "verified_name": self.verified_name,
            "code_verification_status": "VERIFIED",
            "display_phone_number": self.display_phone_number,
            "quality_rating": "GREEN",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
            "id": self.id,
        }
        if not fields:
            return full
        return {**{k: full[k] for k in fields if k in full}, "id": self.id}

    def post(self, edge: str, request: Recorded) -> tuple[int, dict[str, Any]]:
        if edge == "messages":
            return self._send(request.json)
        if edge == "media":
            return self._upload(request)
        return super().post(edge, request)

    def _upload(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        """POST /{phone-number-id}/media, multipart: file, messaging_product=whatsapp, type=<mime>."""
        form = request.json or {}
        upload = request.files.get("file")
        if form.get("messaging_product") != "whatsapp" or upload is None:
            return _invalid("Upload needs messaging_product=whatsapp and a file.", 100)
        mime_type = str(form.get("type") or upload[1] or "application/octet-stream")
        return 200, {"id": self.fake.add_media(upload[2], mime_type, self.id).id}

    def _send(self, body: Any) -> tuple[int, dict[str, Any]]:
        problem = _check_send(self, body)
        if problem is not None:
            return problem
        to = str(body["to"]).lstrip("+")
        if to in self.undeliverable:
            return _graph_error(ERRORS[131026])
        if self.enforce_window and body.get("type") != "template":
            user = self.users.get(to)
            if user is None or user.last_inbound is None or time.time() - user.last_inbound > DAY:
                return _graph_error(ERRORS[131047])
        wamid = self.wamid()
        self.sent[wamid] = body
        message: dict[str, Any] = {"id": wamid}
        if body.get("type") == "template":
            message["message_status"] = "accepted"
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": to}],
            "messages": [message],
        }

    # ------------------------------------------------------------------------------ webhooks (inbound)

    def _message(self, user: WhatsAppUser, kind: str, content: Any, **extra: Any) -> dict[str, Any]:
        user.last_inbound = time.time()
        self.users.setdefault(user.wa_id, user)
        message: dict[str, Any] = {}
        if extra.get("context"):
            message["context"] = extra.pop("context")
        message.update(
            {"from": user.wa_id, "id": self.wamid(), "timestamp": str(int(time.time())), "type": kind}
        )
        if kind != "unsupported":
            message[kind] = content
        message.update({k: v for k, v in extra.items() if v is not None})
        return message

    def text(self, user: WhatsAppUser, body: str, *, reply_to: str | None = None) -> dict[str, Any]:
        context = {"from": self.display_digits, "id": reply_to} if reply_to else None
        return self._message(user, "text", {"body": body}, context=context)

    def _media(
        self, user: WhatsAppUser, kind: str, content: bytes, mime_type: str, **fields: Any
    ) -> dict[str, Any]:
        media = self.fake.add_media(content, mime_type, self.id)
        payload = {"mime_type": mime_type, "sha256": media.sha256, "id": media.id}
        payload.update({k: v for k, v in fields.items() if v is not None})
        return self._message(user, kind, payload)

    def image(
        self, user: WhatsAppUser, content: bytes = b"\xff\xd8\xff\xe0fake-jpeg", *, caption: str | None = None
    ) -> dict[str, Any]:
        return self._media(user, "image", content, "image/jpeg", caption=caption)

    def video(
        self, user: WhatsAppUser, content: bytes = b"fake-mp4", *, caption: str | None = None
    ) -> dict[str, Any]:
        return self._media(user, "video", content, "video/mp4", caption=caption)

    def audio(
        self, user: WhatsAppUser, content: bytes = b"OggS fake", *, voice: bool = True
    ) -> dict[str, Any]:
        return self._media(user, "audio", content, "audio/ogg; codecs=opus", voice=voice)

    def document(
        self,
        user: WhatsAppUser,
        content: bytes = b"%PDF-1.4 fake",
        *,
        filename: str = "invoice.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> dict[str, Any]:
        return self._media(user, "document", content, mime_type, filename=filename, caption=caption)

    def sticker(
        self, user: WhatsAppUser, content: bytes = b"RIFF fake webp", *, animated: bool = False
    ) -> dict[str, Any]:
        return self._media(user, "sticker", content, "image/webp", animated=animated)

    def button_reply(
        self, user: WhatsAppUser, reply_id: str, title: str, *, to_message: str | None = None
    ) -> dict[str, Any]:
        context = {"from": self.display_digits, "id": to_message or self.wamid()}
        content = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
        return self._message(user, "interactive", content, context=context)

    def list_reply(
        self,
        user: WhatsAppUser,
        row_id: str,
        title: str,
        description: str | None = None,
        *,
        to_message: str | None = None,
    ) -> dict[str, Any]:
        context = {"from": self.display_digits, "id": to_message or self.wamid()}
        row = {"id": row_id, "title": title, **({"description": description} if description else {})}
        return self._message(user, "interactive", {"type": "list_reply", "list_reply": row}, context=context)

    def template_button(self, user: WhatsAppUser, payload: str, text: str) -> dict[str, Any]:
        """A tap on a quick-reply button of a template message."""
        context = {"from": self.display_digits, "id": self.wamid()}
        return self._message(user, "button", {"payload": payload, "text": text}, context=context)

    def location(
        self,
        user: WhatsAppUser,
        latitude: float,
        longitude: float,
        *,
        name: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if name:
            location.update(
                {
                    "name": name,
                    "address": address or "",
                    "url": "https://maps.google.com/?cid=2000000000000000000",
                }
            )
        return self._message(user, "location", location)

    def contacts(self, user: WhatsAppUser, *people: tuple[str, str | None, str]) -> dict[str, Any]:
        """Shared contact cards, each (first name, last name, phone)."""
        cards = []
        for first, last, phone in people:
            name = {"first_name": first, "formatted_name": " ".join(p for p in (first, last) if p)}
            if last:
                name["last_name"] = last
            digits = re.sub(r"\D", "", phone)
            cards.append({"name": name, "phones": [{"phone": phone, "wa_id": digits, "type": "CELL"}]})
        message = self._message(user, "contacts", None)
        message["contacts"] = cards
        return message

    def reaction(self, user: WhatsAppUser, message_id: str, emoji: str = "\U0001f44d") -> dict[str, Any]:
        return self._message(user, "reaction", {"message_id": message_id, "emoji": emoji})

    def unsupported(self, user: WhatsAppUser) -> dict[str, Any]:
        error = {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
        return self._message(user, "unsupported", None, errors=[error])

    def status(
        self, wamid: str, status: str, *, recipient: str | None = None, error: int | GraphError | None = None
    ) -> dict[str, Any]:
        """One `statuses[]` item for a message we accepted (sent, delivered, read, failed with `error`)."""
        if recipient is None:
            recipient = str((self.sent.get(wamid) or {}).get("to", "")).lstrip("+")
        item: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": recipient,
        }
        if status == "sent":
            item["conversation"] = {
                "id": secrets.token_hex(16),
                "expiration_timestamp": str(int(time.time()) + DAY),
                "origin": {"type": "service"},
            }
            item["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
        if status == "failed":
            graph_error = ERRORS[error] if isinstance(error, int) else (error or ERRORS[131026])
            item["errors"] = [graph_error.webhook_error()]
        return item

    def _value(self) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": self.display_digits, "phone_number_id": self.id},
        }

    def webhook(
        self, *messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The webhook Meta posts for `messages` (with the senders' profiles) and/or `statuses`."""
        value = self._value()
        if messages:
            senders = list(dict.fromkeys(m["from"] for m in messages))
            value["contacts"] = [
                {"profile": {"name": self.users[s].name if s in self.users else None}, "wa_id": s}
                for s in senders
            ]
            value["messages"] = list(messages)
        if statuses:
            value["statuses"] = list(statuses)
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"value": value, "field": "messages"}]}],
        }

    def status_webhook(self, *statuses: dict[str, Any]) -> dict[str, Any]:
        return self.webhook(statuses=list(statuses))


# ---------------------------------------------------------------------------------- Messenger and Instagram

MESSAGE_TAGS = ("HUMAN_AGENT", "ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE")
SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen")
WEEK = 7 * DAY
# Meta's Messenger error envelope (reference/channels.md section 3b): 190 is verbatim from Meta.
MESSENGER_ERRORS: dict[int | str, GraphError] = {
    "outside_window": GraphError(
        400, 10, "(#10) This message is sent outside of allowed window.", subcode=2018278
    ),
    "unavailable_user": GraphError(
        400, 551, "(#551) This person isn't available right now.", subcode=1545041
    ),
    "no_user": GraphError(400, 100, "(#100) No matching user found", subcode=2018001),
    "invalid": GraphError(400, 100, "(#100) Invalid parameter"),
    "bad_proof": GraphError(
        400, 100, "Invalid appsecret_proof provided in the API argument", type="GraphMethodException"
    ),
    "page_limit": GraphError(400, 32, "(#32) Page request limit reached"),
    "app_limit": GraphError(400, 4, "(#4) Application request limit reached"),
    "throttled": GraphError(429, 613, "(#613) Calls to this api have exceeded the rate limit."),
    "transient": GraphError(500, 2, "An unexpected error has occurred. Please retry your request later."),
}


@dataclasses.dataclass
class MessengerUser:
    """A person on Messenger (PSID) or Instagram (IGSID)."""

    id: str
    last_inbound: float | None = None  # when they last wrote (the fake's own windows)


class MessagingNode(GraphNode):
    """A Facebook Page or an Instagram professional account: Meta's Send API (POST /{id}/messages), sender
    actions, subscribed_apps, and builders of its webhooks (object "page" / "instagram",
    entry[].messaging[])."""

    object_name = "page"

    def __init__(self, fake: MetaGraphFake, node_id: str, access_token: str, app_secret: str, name: str):
        super().__init__(fake, node_id, access_token, app_secret)
        self.name = name
        self.users: dict[str, MessengerUser] = {}
        self.unavailable: set[str] = set()  # users who blocked the Page / are gone: sends answer 551
        self.enforce_window = False  # sends outside the 24 h window (7 days for HUMAN_AGENT) answer #10
        self.sent: dict[str, dict[str, Any]] = {}  # message_id -> body we accepted
        self.actions: list[dict[str, Any]] = []  # sender actions accepted
        self.subscribed_fields: list[str] = []
        self.app_id = str(600_000_000_000_000 + secrets.randbelow(10**12))

    # ------------------------------------------------------------------------------ test controls

    def user(self, user_id: str) -> MessengerUser:
        return self.users.setdefault(user_id, MessengerUser(user_id))

    def mid(self) -> str:
        return "m_" + secrets.token_urlsafe(48)

    # ------------------------------------------------------------------------------ Graph API

    def describe(self, fields: list[str]) -> dict[str, Any]:
        full = {"id": self.id, "name": self.name}
        return {**{k: full[k] for k in fields if k in full}, "id": self.id} if fields else full

    def post(self, edge: str, request: Recorded) -> tuple[int, dict[str, Any]]:
        if edge == "messages":
            return self.send(request.json)
        if edge == "subscribed_apps":
            fields = (request.json or {}).get("subscribed_fields") or request.query.get("subscribed_fields")
            if not fields:
                return _graph_error(MESSENGER_ERRORS["invalid"], None)
            self.subscribed_fields = str(fields).split(",")
            return 200, {"success": True}
        return super().post(edge, request)

    def send(self, body: Any) -> tuple[int, dict[str, Any]]:
        problem = _check_messaging(body)
        if problem is not None:
            return 400, GraphError(400, 100, f"(#100) {problem}").body()
        recipient = str(body["recipient"]["id"])
        user = self.users.get(recipient)
        if user is None:
            return _graph_error(MESSENGER_ERRORS["no_user"])
        if recipient in self.unavailable:
            return _graph_error(MESSENGER_ERRORS["unavailable_user"])
        if self.enforce_window:
            allowed = {"HUMAN_AGENT": WEEK}.get(body.get("tag"), DAY)
            if body.get("messaging_type") == "MESSAGE_TAG" and body.get("tag") != "HUMAN_AGENT":
                allowed = None  # update tags: at any time
            if allowed is not None and (
                user.last_inbound is None or time.time() - user.last_inbound > allowed
            ):
                return _graph_error(MESSENGER_ERRORS["outside_window"])
        if "sender_action" in body:
            self.actions.append(body)
            return 200, {"recipient_id": recipient}
        message_id = self.mid()
        self.sent[message_id] = body
        return 200, {"recipient_id": recipient, "message_id": message_id}

    # ------------------------------------------------------------------------------ webhooks (inbound)

    def _item(self, user: MessengerUser, **content: Any) -> dict[str, Any]:
        return {
            "sender": {"id": user.id},
            "recipient": {"id": self.id},
            "timestamp": int(time.time() * 1000),
            **content,
        }

    def _message(self, user: MessengerUser, message: dict[str, Any]) -> dict[str, Any]:
        user.last_inbound = time.time()
        self.users.setdefault(user.id, user)
        return self._item(user, message={"mid": self.mid(), **message})

    def text(
        self,
        user: MessengerUser,
        text: str,
        *,
        quick_reply: str | None = None,
        reply_to: str | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"text": text}
        if quick_reply is not None:
            message["quick_reply"] = {"payload": quick_reply}
        if reply_to is not None:
            message["reply_to"] = {"mid": reply_to}
        return self._message(user, message)

    def attachment(
        self,
        user: MessengerUser,
        kind: str = "image",
        content: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
        mime_type: str = "image/jpeg",
        **payload: Any,
    ) -> dict[str, Any]:
        """An attachment on Meta's CDN (a signed public link, no token needed)."""
        url = self.fake.cdn_url(self.fake.add_media(content, mime_type, self.id))
        return self._message(user, {"attachments": [{"type": kind, "payload": {"url": url, **payload}}]})

    def postback(self, user: MessengerUser, title: str, payload: str) -> dict[str, Any]:
        user.last_inbound = time.time()
        self.users.setdefault(user.id, user)
        return self._item(user, postback={"mid": self.mid(), "title": title, "payload": payload})

    def echo(
        self,
        user: MessengerUser,
        text: str,
        *,
        mid: str | None = None,
        metadata: str | None = None,
        app_id: str | None = "263902037430900",
    ) -> dict[str, Any]:
        """The Page's own message to `user` (sent from the Page inbox by default) as its echo."""
        message: dict[str, Any] = {"is_echo": True, "mid": mid or self.mid(), "text": text}
        if app_id is not None:
            message["app_id"] = int(app_id)
        if metadata is not None:
            message["metadata"] = metadata
        return {
            "sender": {"id": self.id},
            "recipient": {"id": user.id},
            "timestamp": int(time.time() * 1000),
            "message": message,
        }

    def echo_of(self, message_id: str) -> dict[str, Any]:
        """The echo Meta sends for a message the fake accepted (our metadata included)."""
        body = self.sent[message_id]
        message = body["message"]
        return self.echo(
            self.users[body["recipient"]["id"]],
            message.get("text") or "",
            mid=message_id,
            metadata=message.get("metadata"),
            app_id=self.app_id,
        )

    def delivery(
        self, user: MessengerUser, mids: list[str] | None = None, watermark: int | None = None
    ) -> dict[str, Any]:
        delivery: dict[str, Any] = {"watermark": watermark or int(time.time() * 1000), "seq": 37}
        if mids is not None:
            delivery["mids"] = mids
        return self._item(user, delivery=delivery)

    def read(self, user: MessengerUser, watermark: int | None = None) -> dict[str, Any]:
        return self._item(user, read={"watermark": watermark or int(time.time() * 1000)})

    def webhook(self, *items: dict[str, Any], standby: bool = False) -> dict[str, Any]:
        return {
            "object": self.object_name,
            "entry": [
                {
                    "id": self.id,
                    "time": int(time.time() * 1000),
                    "standby" if standby else "messaging": list(items),
                }
            ],
        }


class Page(MessagingNode):
    """A Facebook Page (Messenger), possibly linked to an Instagram professional account."""

    kind = "page"
    object_name = "page"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.instagram: InstagramAccount | None = None

    def describe(self, fields: list[str]) -> dict[str, Any]:
        described = super().describe([f for f in fields if f != "instagram_business_account"])
        if self.instagram is not None and (not fields or "instagram_business_account" in fields):
            described["instagram_business_account"] = {"id": self.instagram.id}
        return described

    def send(self, body: Any) -> tuple[int, dict[str, Any]]:
        # Messenger API for Instagram: the Page sends to its Instagram account's users (IGSIDs).
        recipient = (
            str(((body or {}).get("recipient") or {}).get("id") or "") if isinstance(body, dict) else ""
        )
        if self.instagram is not None and recipient in self.instagram.users:
            return self.instagram.send(body)
        return super().send(body)


class InstagramAccount(MessagingNode):
    """An Instagram professional account: Instagram Login (graph.instagram.com, its own token) or behind a
    Page."""

    kind = "instagram_account"
    object_name = "instagram"

    def __init__(self, *args: Any, username: str = "chatbotx.shop", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.username = username
        self.app_scoped_id = str(9_000_000_000_000_000 + secrets.randbelow(10**15))

    def describe(self, fields: list[str]) -> dict[str, Any]:
        # GET /me on graph.instagram.com: `id` is app-scoped, `user_id` the account id webhooks use.
        full = {"id": self.app_scoped_id, "user_id": self.id, "username": self.username, "name": self.name}
        return {**{k: full[k] for k in fields if k in full}, "id": self.app_scoped_id} if fields else full

    def story_mention(self, user: MessengerUser, content: bytes = b"\xff\xd8 story") -> dict[str, Any]:
        url = self.fake.cdn_url(self.fake.add_media(content, "image/jpeg", self.id))
        return self._message(user, {"attachments": [{"type": "story_mention", "payload": {"url": url}}]})

    def story_reply(
        self, user: MessengerUser, text: str, story_id: str = "17890000000000001"
    ) -> dict[str, Any]:
        story = {"id": story_id, "url": f"{self.fake.base_url}/cdn/story-{story_id}"}
        return self._message(user, {"text": text, "reply_to": {"story": story}})

    def unsend(self, user: MessengerUser, mid: str) -> dict[str, Any]:
        return self._item(user, message={"mid": mid, "is_deleted": True})

    def seen(self, user: MessengerUser, mid: str) -> dict[str, Any]:
        """Instagram's read receipt (messaging_seen) names the message read."""
        return self._item(user, read={"mid": mid})


def _check_messaging(body: Any) -> str | None:
    """Meta's complaint about a Send API body, if any (reference/channels.md 3b: the objects' limits)."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object"
    recipient = body.get("recipient")
    if not isinstance(recipient, dict) or not recipient.get("id"):
        return "param recipient must be non-empty."
    if "sender_action" in body:
        if body["sender_action"] not in SENDER_ACTIONS:
            return "param sender_action must be one of {TYPING_ON, TYPING_OFF, MARK_SEEN}"
        if "message" in body:
            return "sender_action cannot be combined with message"
        return None
    kind = body.get("messaging_type")
    if kind not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
        return "param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}"
    if (kind == "MESSAGE_TAG") != ("tag" in body):
        return "a tag goes with messaging_type MESSAGE_TAG, and only with it"
    if kind == "MESSAGE_TAG" and body["tag"] not in MESSAGE_TAGS:
        return f"param tag must be one of {{{', '.join(MESSAGE_TAGS)}}}"
    message = body.get("message")
    if not isinstance(message, dict) or ("text" in message) == ("attachment" in message):
        return "param message must have exactly one of text or attachment"
    if len(str(message.get("metadata", ""))) > 1000:
        return "param message[metadata] must be at most 1000 characters"
    if "text" in message and (not str(message["text"]).strip() or len(str(message["text"])) > 2000):
        return "param message[text] must be non-empty UTF-8 text of at most 2000 characters"
    quick_replies = message.get("quick_replies")
    if quick_replies is not None:
        if not isinstance(quick_replies, list) or not 1 <= len(quick_replies) <= 13:
            return "param message[quick_replies] must have 1 to 13 items"
        for reply in quick_replies:
            if reply.get("content_type") == "text" and (
                not reply.get("title") or len(reply["title"]) > 20 or not reply.get("payload")
            ):
                return "quick_replies[content_type=text] needs a title (at most 20 characters) and a payload"
            if len(str(reply.get("payload", ""))) > 1000:
                return "quick reply payload must be at most 1000 characters"
    attachment = message.get("attachment")
    if attachment is not None:
        kind = attachment.get("type")
        payload = attachment.get("payload") or {}
        if kind not in ("image", "audio", "video", "file", "template"):
            return "param message[attachment][type] must be one of {image, audio, video, file, template}"
        if kind == "template":
            return _check_button_template(payload)
        if ("url" in payload) == ("attachment_id" in payload):
            return "an attachment payload needs exactly one of url or attachment_id"
        if "url" in payload and not str(payload["url"]).startswith(("http://", "https://")):
            return "param message[attachment][payload][url] must be a valid URL"
    return None


def _check_button_template(payload: dict[str, Any]) -> str | None:
    if payload.get("template_type") != "button":
        return "template_type must be button"
    text = payload.get("text")
    if not isinstance(text, str) or not text or len(text) > 640:
        return "param message[attachment][payload][text] is required, at most 640 characters"
    buttons = payload.get("buttons") or []
    if not 1 <= len(buttons) <= 3:
        return "a button template has 1 to 3 buttons"
    for button in buttons:
        if not button.get("title") or len(button["title"]) > 20:
            return "button title is required, at most 20 characters"
        if button.get("type") == "postback":
            if not button.get("payload") or len(button["payload"]) > 1000:
                return "postback payload is required, at most 1000 characters"
        elif button.get("type") == "web_url":
            if not str(button.get("url", "")).startswith(("http://", "https://")):
                return "web_url button needs a URL"
        else:
            return "button type must be postback or web_url"
    return None


class MetaGraphFake:
    """The fake Graph API: nodes by id, media, recorded requests, scripted failures, webhook delivery."""

    def __init__(self) -> None:
        self.base_url = ""  # set by serve_fake_meta
        self.nodes: dict[str, GraphNode] = {}
        self.media: dict[str, StoredMedia] = {}
        self.requests: list[Recorded] = []
        self._failures: list[tuple[GraphError | tuple[int, dict[str, Any]], tuple[str, ...]]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/whatsapp_business/attachments/", self._download, methods=["GET"]),
                Route("/cdn/{media_id}", self._cdn, methods=["GET"]),
                Route("/{version}/{node_id}", self._get, methods=["GET"]),
                Route("/{version}/{node_id}/{edge}", self._post, methods=["POST"]),
            ]
        )

    # ------------------------------------------------------------------------------ test controls

    def reset(self) -> None:
        with self._lock:
            self.nodes.clear()
            self.media.clear()
            self.requests.clear()
            self._failures.clear()

    def add_node(self, node: GraphNode) -> GraphNode:
        self.nodes[node.id] = node
        return node

    def add_whatsapp_number(
        self,
        phone_number_id: str | None = None,
        *,
        access_token: str | None = None,
        app_secret: str | None = None,
        display_phone_number: str = "+1 555-078-3881",
        verified_name: str = "ChatbotX Shop",
        waba_id: str | None = None,
    ) -> WhatsAppNumber:
        n = next(self._ids)
        number = WhatsAppNumber(
            self,
            phone_number_id or str(106_540_352_242_900 + n),
            access_token or "EAAG" + secrets.token_urlsafe(40),
            app_secret or secrets.token_hex(16),
            display_phone_number=display_phone_number,
            verified_name=verified_name,
            waba_id=waba_id or str(102_290_129_340_300 + n),
        )
        self.add_node(number)
        return number

    def add_page(
        self,
        page_id: str | None = None,
        *,
        access_token: str | None = None,
        app_secret: str | None = None,
        name: str = "ChatbotX Shop",
        instagram: bool = False,
    ) -> Page:
        """A Facebook Page with its Page access token; `instagram` links an Instagram professional account
        (Page.instagram), reached through the Page (Messenger API for Instagram)."""
        n = next(self._ids)
        page = Page(
            self,
            page_id or str(110_000_000_000_000 + n),
            access_token or "EAAP" + secrets.token_urlsafe(40),
            app_secret or secrets.token_hex(16),
            name,
        )
        self.add_node(page)
        if instagram:
            page.instagram = InstagramAccount(
                self,
                str(17_841_400_000_000_000 + n),
                "IGNOTUSED" + secrets.token_urlsafe(8),
                page.app_secret,
                name,
            )
            page.instagram.app_id = page.app_id
            self.add_node(page.instagram)
        return page

    def add_instagram_account(
        self,
        user_id: str | None = None,
        *,
        access_token: str | None = None,
        app_secret: str | None = None,
        username: str = "chatbotx.shop",
    ) -> InstagramAccount:
        """An Instagram professional account with an Instagram Login user token (graph.instagram.com)."""
        n = next(self._ids)
        account = InstagramAccount(
            self,
            user_id or str(17_841_405_000_000_000 + n),
            access_token or "IGAA" + secrets.token_urlsafe(40),
            app_secret or secrets.token_hex(16),
            "ChatbotX Shop",
            username=username,
        )
        self.add_node(account)
        return account

    def cdn_url(self, media: StoredMedia) -> str:
        """A signed public link to `media`, as Meta's CDN gives for Messenger/Instagram attachments."""
        return f"{self.base_url}/cdn/{media.id}?oh={secrets.token_hex(8)}&oe={int(time.time()) + DAY:x}"

    def add_media(self, content: bytes, mime_type: str, owner: str) -> StoredMedia:
        media = StoredMedia(str(1_375_245_879_353_000 + next(self._ids)), content, mime_type, owner)
        self.media[media.id] = media
        return media

    def fail_next(
        self,
        count: int,
        error: int | str | GraphError | tuple[int, dict[str, Any]],
        *,
        edges: tuple[str, ...] = ("messages",),
    ) -> None:
        """The next `count` calls to `edges` (default: sends) answer `error`: a Graph code or a name from
        ERRORS, a GraphError, or (HTTP status, body) verbatim."""
        failure = ERRORS[error] if isinstance(error, int | str) else error
        with self._lock:
            self._failures.extend([(failure, edges)] * count)

    def sent(self, node_id: str | None = None) -> list[Recorded]:
        """The sends the fake accepted, in order."""
        return [
            r
            for r in self.requests
            if r.edge == "messages" and r.status == 200 and (node_id is None or r.node_id == node_id)
        ]

    def sends(self) -> list[Recorded]:
        """Every send attempt, failed ones included."""
        return [r for r in self.requests if r.edge == "messages"]

    # ------------------------------------------------------------------------------ webhooks

    @staticmethod
    def encode(payload: dict[str, Any]) -> bytes:
        """The raw body as Meta writes it: compact, non-ASCII as \\uXXXX and "/" as "\\/" (so re-serialising
        changes the bytes, and only a signature over the raw body verifies)."""
        return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()

    @staticmethod
    def sign(body: bytes, app_secret: str) -> str:
        return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()

    async def deliver(
        self,
        url: str,
        payload: dict[str, Any] | bytes,
        *,
        app_secret: str | None = None,
        signature: str | object | None = SIGNED,
        client: httpx.AsyncClient | None = None,
        app: Any = None,
    ) -> httpx.Response:
        """POST a webhook as Meta does. `signature`: SIGNED (HMAC with `app_secret`), None (no header), or a
        header value verbatim (a forgery). `client` or `app` (ASGI) route it in-process."""
        body = payload if isinstance(payload, bytes) else self.encode(payload)
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature is SIGNED:
            if app_secret is None:
                raise ValueError("deliver() needs app_secret to sign")
            headers[SIGNATURE_HEADER] = self.sign(body, app_secret)
            headers["X-Hub-Signature"] = (
                "sha1=" + hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()
            )
        elif signature is not None:
            headers[SIGNATURE_HEADER] = str(signature)
        return await _request(client, app, "POST", url, content=body, headers=headers)

    async def verify_subscription(
        self,
        url: str,
        verify_token: str,
        *,
        challenge: str | None = None,
        mode: str = "subscribe",
        client: httpx.AsyncClient | None = None,
        app: Any = None,
    ) -> httpx.Response:
        """The GET Meta sends when the callback URL is saved (hub.mode, hub.challenge, hub.verify_token)."""
        params = {
            "hub.mode": mode,
            "hub.challenge": challenge or str(secrets.randbelow(10**10)),
            "hub.verify_token": verify_token,
        }
        separator = "&" if "?" in url else "?"
        return await _request(client, app, "GET", f"{url}{separator}{urlencode(params)}")

    # ------------------------------------------------------------------------------ HTTP

    async def _record(self, request: Request, node_id: str | None, edge: str | None) -> Recorded:
        body = await request.body()
        decoded: Any = None
        if body and request.headers.get("content-type", "").startswith("application/json"):
            with contextlib.suppress(ValueError):
                decoded = json.loads(body)
        record = Recorded(
            request.method,
            request.url.path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            body,
            decoded,
            time.time(),
            node_id,
            edge,
        )
        with self._lock:
            self.requests.append(record)
        return record

    def _answer(self, record: Recorded, status: int, body: dict[str, Any]) -> Response:
        record.status, record.response = status, body
        return JSONResponse(body, status_code=status)

    def _authorize(self, record: Recorded, node: GraphNode | None) -> tuple[int, dict[str, Any]] | None:
        token = record.token
        if not token:
            return _graph_error(ERRORS["no_token"])
        owner = node if node is not None and node.access_token == token else None
        owner = owner or next((n for n in self.nodes.values() if n.access_token == token), None)
        if owner is None or (node is not None and owner is not node):
            return _graph_error(ERRORS["invalid_token"])
        if owner.token_expired:
            return _graph_error(ERRORS[190])
        proof = record.query.get("appsecret_proof")
        if proof is not None:
            expected = hmac.new(owner.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(proof, expected):
                return _graph_error(MESSENGER_ERRORS["bad_proof"])
        return None

    def _node(self, node_id: str, record: Recorded) -> GraphNode | None:
        """The node of the path; "me" is the node the token belongs to."""
        if node_id == "me":
            return next((n for n in self.nodes.values() if n.access_token == record.token), None)
        return self.nodes.get(node_id)

    def _scripted_failure(self, edge: str) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            for index, (failure, edges) in enumerate(self._failures):
                if edge in edges:
                    del self._failures[index]
                    return _graph_error(failure) if isinstance(failure, GraphError) else failure
        return None

    async def _get(self, request: Request) -> Response:
        node_id = request.path_params["node_id"]
        record = await self._record(request, node_id, None)
        if not _VERSION.match(request.path_params["version"]):
            return self._answer(record, *_unknown_path(request.url.path))
        media = self.media.get(node_id)
        node = self._node(node_id, record)
        denied = self._authorize(record, node)
        if denied is not None:
            return self._answer(record, *denied)
        if media is not None:
            query = urlencode(
                {"mid": media.id, "ext": str(int(time.time())), "hash": secrets.token_urlsafe(12)}
            )
            return self._answer(
                record,
                200,
                {
                    "url": f"{self.base_url}/whatsapp_business/attachments/?{query}",
                    "mime_type": media.mime_type,
                    "sha256": media.sha256,
                    "file_size": len(media.content),
                    "id": media.id,
                    "messaging_product": "whatsapp",
                },
            )
        if node is None:
            return self._answer(record, *_unsupported_get(node_id))
        fields = [f for f in record.query.get("fields", "").split(",") if f]
        return self._answer(record, 200, node.describe(fields))

    async def _post(self, request: Request) -> Response:
        node_id, edge = request.path_params["node_id"], request.path_params["edge"]
        record = await self._record(request, node_id, edge)
        if not _VERSION.match(request.path_params["version"]):
            return self._answer(record, *_unknown_path(request.url.path))
        node = self._node(node_id, record)
        if node is None:
            return self._answer(record, *_unsupported_get(node_id, "post"))
        denied = self._authorize(record, node)
        if denied is not None:
            return self._answer(record, *denied)
        failure = self._scripted_failure(edge)
        if failure is not None:
            return self._answer(record, *failure)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            record.json = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            for key, value in form.multi_items():
                if not isinstance(value, str):
                    record.files[key] = (value.filename, value.content_type, await value.read())
        with self._lock:
            status, body = node.post(edge, record)
        return self._answer(record, status, body)

    async def _cdn(self, request: Request) -> Response:
        record = await self._record(request, None, "cdn")
        media = self.media.get(request.path_params["media_id"])
        if media is None:
            record.status = 404
            return Response(b"URL signature expired", status_code=404)
        return Response(media.content, media_type=media.mime_type)

    async def _download(self, request: Request) -> Response:
        record = await self._record(request, None, "download")
        denied = self._authorize(record, None)
        if denied is not None:
            return self._answer(record, *denied)
        media = self.media.get(record.query.get("mid", ""))
        if media is None:
            return self._answer(record, 404, {"error": {"message": "Not found", "code": 404}})
        record.status = 200
        return Response(media.content, media_type=media.mime_type)


def _graph_error(error: GraphError, details: str | None = None) -> tuple[int, dict[str, Any]]:
    return error.status, error.body(details)


def _unknown_path(path: str) -> tuple[int, dict[str, Any]]:
    return 400, GraphError(400, 2500, f"Unknown path components: {path}").body()


def _unsupported_get(node_id: str, verb: str = "get") -> tuple[int, dict[str, Any]]:
    message = (
        f"Unsupported {verb} request. Object with ID '{node_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API documentation "
        "at https://developers.facebook.com/docs/graph-api"
    )
    return 400, GraphError(400, 100, message, type="GraphMethodException", subcode=33).body()


# ---------------------------------------------------------------------------------- send validation


def _invalid(details: str, code: int = 131009) -> tuple[int, dict[str, Any]]:
    return _graph_error(ERRORS[code], details)


def _check_send(number: WhatsAppNumber, body: Any) -> tuple[int, dict[str, Any]] | None:
    """Meta's complaint about a send body, if any (the limits of the Cloud API's message objects)."""
    if not isinstance(body, dict):
        return _invalid("The request body must be a JSON object.", 100)
    if body.get("messaging_product") != "whatsapp":
        return _invalid("The parameter messaging_product is required.", 100)
    if not _PHONE.match(str(body.get("to") or "")):
        return _invalid("Recipient phone number is not a valid phone number (parameter to).")
    kind = body.get("type", "text")
    content = body.get(kind)
    if not isinstance(content, dict):
        return _invalid(f"The parameter {kind} is required.", 131008)
    checker = _CHECKS.get(kind)
    if checker is None:
        return _invalid(f"Unsupported message type {kind}.", 131051)
    problem = checker(number, kind, content)
    return _invalid(problem) if isinstance(problem, str) else problem


def _check_text(number: WhatsAppNumber, kind: str, text: dict[str, Any]) -> str | None:
    body = text.get("body")
    if not isinstance(body, str) or not body.strip():
        return "text['body'] is required and may not be empty"
    if len(body) > 4096:
        return "text['body'] may have at most 4096 characters"
    if "preview_url" in text and not isinstance(text["preview_url"], bool):
        return "text['preview_url'] must be a boolean"
    return None


def _check_media(number: WhatsAppNumber, kind: str, media: dict[str, Any]) -> str | None:
    if ("link" in media) == ("id" in media):
        return f"{kind} needs exactly one of link or id"
    if "link" in media and not str(media["link"]).startswith(("http://", "https://")):
        return f"{kind}['link'] must be an http(s) URL"
    if "id" in media and str(media["id"]) not in number.fake.media:
        return f"{kind}['id'] is not a valid media id"
    if "caption" in media and kind in ("audio", "sticker"):
        return f"{kind} messages take no caption"
    if len(str(media.get("caption", ""))) > 1024:
        return f"{kind}['caption'] may have at most 1024 characters"
    if "filename" in media and kind != "document":
        return f"filename is only for documents, not {kind}"
    return None


def _check_interactive(number: WhatsAppNumber, kind: str, interactive: dict[str, Any]) -> str | None:
    body = (interactive.get("body") or {}).get("text")
    if not isinstance(body, str) or not body or len(body) > 1024:
        return "interactive['body']['text'] is required, at most 1024 characters"
    action = interactive.get("action") or {}
    kind = str(interactive.get("type"))
    if kind == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            return "interactive buttons: between 1 and 3 reply buttons"
        ids, titles = [], []
        for button in buttons:
            reply = button.get("reply") or {}
            if button.get("type") != "reply" or not reply.get("id") or not reply.get("title"):
                return "each button is {type: reply, reply: {id, title}}"
            if len(reply["title"]) > 20:
                return "Button title length invalid. Min length: 1, Max length: 20"
            if len(reply["id"]) > 256:
                return "Button id length invalid. Max length: 256"
            ids.append(reply["id"])
            titles.append(reply["title"])
        if len(set(ids)) != len(ids) or len(set(titles)) != len(titles):
            return "Button ids and titles must be unique"
        header = interactive.get("header")
        if header is not None and header.get("type") not in ("text", "image", "video", "document"):
            return "header type must be text, image, video or document"
        if header is not None and header["type"] != "text":
            return _check_media(number, header["type"], header.get(header["type"]) or {})
        return None
    if kind == "list":
        label = action.get("button")
        if not isinstance(label, str) or not 1 <= len(label) <= 20:
            return "list action['button'] is required, at most 20 characters"
        sections = action.get("sections") or []
        rows = [row for section in sections for row in section.get("rows") or []]
        if not 1 <= len(sections) <= 10 or not 1 <= len(rows) <= 10:
            return "a list has 1 to 10 sections and 1 to 10 rows in all"
        for row in rows:
            if not row.get("id") or not row.get("title") or len(row["title"]) > 24 or len(row["id"]) > 200:
                return "Row title length invalid. Min length: 1, Max length: 24"
            if len(row.get("description", "")) > 72:
                return "Row description length invalid. Max length: 72"
        if len({row["id"] for row in rows}) != len(rows):
            return "Row ids must be unique"
        return None
    if kind == "cta_url":
        parameters = action.get("parameters") or {}
        if action.get("name") != "cta_url" or not parameters.get("url") or not parameters.get("display_text"):
            return "cta_url needs action {name: cta_url, parameters: {display_text, url}}"
        if len(parameters["display_text"]) > 20:
            return "display_text may have at most 20 characters"
        return None
    return f"interactive type {kind!r} is not supported"


def _check_template(
    number: WhatsAppNumber, kind: str, template: dict[str, Any]
) -> tuple[int, dict[str, Any]] | str | None:
    name, language = template.get("name"), (template.get("language") or {}).get("code")
    if not name or not language:
        return "template needs a name and language {code}"
    expected = number.templates.get((name, language))
    if expected is None:
        return _graph_error(ERRORS[132001], f"template name ({name}) does not exist in {language}")
    given: dict[str, int] = {}
    for component in template.get("components") or []:
        if component.get("type") not in ("header", "body", "button", "footer"):
            return f"component type {component.get('type')!r} is not valid"
        for parameter in component.get("parameters") or []:
            if parameter.get("type") not in (
                "text",
                "currency",
                "date_time",
                "image",
                "video",
                "document",
                "payload",
                "location",
            ):
                return f"parameter type {parameter.get('type')!r} is not valid"
        if component.get("type") != "button":
            given[component["type"]] = len(component.get("parameters") or [])
    for part in ("header", "body"):
        if given.get(part, 0) != expected.get(part, 0):
            details = (
                f"{part}: number of localizable_params ({given.get(part, 0)}) does not match the expected "
                f"number of params ({expected.get(part, 0)})"
            )
            return _graph_error(ERRORS[132000], details)
    return None


def _check_reaction(number: WhatsAppNumber, kind: str, reaction: dict[str, Any]) -> str | None:
    if not reaction.get("message_id") or "emoji" not in reaction:
        return "reaction needs message_id and emoji"
    return None


_CHECKS: dict[str, Any] = {
    "text": _check_text,
    "image": _check_media,
    "video": _check_media,
    "audio": _check_media,
    "document": _check_media,
    "sticker": _check_media,
    "interactive": _check_interactive,
    "template": _check_template,
    "reaction": _check_reaction,
}


# ---------------------------------------------------------------------------------- serving


async def _request(
    client: httpx.AsyncClient | None, app: Any, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    if client is not None:
        return await client.request(method, url, **kwargs)
    transport = httpx.ASGITransport(app=app) if app is not None else None
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as own:
        return await own.request(method, url, **kwargs)


@contextlib.contextmanager
def serve_fake_meta() -> Iterator[MetaGraphFake]:
    """Run a MetaGraphFake on a free 127.0.0.1 port (uvicorn in a background thread); fake.base_url is set."""
    fake = MetaGraphFake()
    with serve_asgi(fake.app) as base_url:
        fake.base_url = base_url
        yield fake
