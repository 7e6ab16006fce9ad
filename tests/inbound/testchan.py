"""A tiny test-only channel ("testchan") that exercises the inbound pipeline without a provider.

Webhook body: {"messages": [{"from", "id", "text"?, "firstName"?, "lastName"?, "phone"?,
"media"?: [{"id", "mime"}], "ts"?}], "statuses": [{"id", "status", "error"?}]}, signed with
X-Test-Signature = HMAC-SHA256 of the raw body with the inbox's appSecret.
GET ?challenge=x&token=<verifyCode> echoes x.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from typing import Any, ClassVar

import httpx
import orjson

from chatbotx.channels import registry
from chatbotx.channels.base import (
    Attachment,
    ChannelContext,
    ContactProfile,
    InboundEvent,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    RatePlan,
    SendResult,
    WebhookRequest,
)
from chatbotx.inboxes import secrets
from chatbotx.kit import db
from chatbotx.models import Inbox

CHANNEL = "testchan"
SECRET = "test-app-secret"


class TestChanAdapter:
    channel: ClassVar[str] = CHANNEL
    window: ClassVar[dt.timedelta | None] = None

    def __init__(self) -> None:
        self.downloads: list[str] = []
        self.fail_downloads = False

    def rate_plan(self, config: dict[str, Any]) -> RatePlan:
        return RatePlan(per_second=None)

    async def connect(self, ctx: ChannelContext) -> dict[str, Any]:
        return {}

    async def handshake(self, ctx: ChannelContext, request: WebhookRequest) -> tuple[int, bytes] | None:
        if "challenge" not in request.query:
            return None
        if request.query.get("token") != ctx.config.get("verifyCode"):
            return 403, b"Forbidden"
        return 200, request.query["challenge"].encode()

    def verify(self, ctx: ChannelContext, request: WebhookRequest) -> bool:
        given = request.headers.get("x-test-signature", "")
        expected = sign(request.body, ctx.credentials.get("appSecret", ""))
        return bool(given) and hmac.compare_digest(given, expected)

    def parse(self, ctx: ChannelContext, request: WebhookRequest) -> list[InboundEvent]:
        body = orjson.loads(request.body)
        out: list[InboundEvent] = []
        for m in body.get("messages", []):
            media = [
                Attachment(kind="image", provider_file_id=a["id"], mime_type=a.get("mime"))
                for a in m.get("media", [])
            ]
            out.append(
                InboundMessage(
                    source_id=str(m["from"]),
                    provider_message_id=str(m["id"]),
                    content_type="image" if media and not m.get("text") else "text",
                    text=m.get("text"),
                    attachments=media,
                    attributes={"payload": m["payload"]} if "payload" in m else {},
                    profile=ContactProfile(
                        first_name=m.get("firstName"),
                        last_name=m.get("lastName"),
                        phone_number=m.get("phone"),
                    ),
                    sent_at=dt.datetime.fromtimestamp(m["ts"], dt.UTC) if "ts" in m else None,
                )
            )
        for s in body.get("statuses", []):
            out.append(
                InboundStatus(
                    provider_message_id=str(s["id"]),
                    status=s["status"],
                    error_code=s.get("error"),
                    error_message=s.get("errorMessage"),
                )
            )
        return out

    async def download(self, ctx: ChannelContext, attachment: Attachment) -> tuple[bytes, str | None]:
        if self.fail_downloads:
            raise RuntimeError("media gone")
        self.downloads.append(attachment.provider_file_id or "")
        return f"bytes of {attachment.provider_file_id}".encode(), attachment.mime_type

    async def send(self, ctx: ChannelContext, message: OutboundMessage) -> SendResult:
        return SendResult(provider_message_id=f"out-{message.message_id}")


ADAPTER = TestChanAdapter()


def install() -> TestChanAdapter:
    registry.get("telegram")  # load the real adapters first, so the registry is not empty-then-lazy
    registry.register(ADAPTER)
    ADAPTER.fail_downloads = False
    return ADAPTER


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def make_inbox(workspace_id: int | str, channel: str = CHANNEL, **config: Any) -> Inbox:
    public, hidden = secrets.apply_config({}, {}, {"appSecret": SECRET, "verifyCode": "vc", **config})
    async with db.get_database().sessionmaker() as session:
        inbox = Inbox(
            workspace_id=int(workspace_id),
            name=f"test {uuid.uuid4().hex[:6]}",
            channel=channel,
            config=public,
            credentials=secrets.seal(hidden),
        )
        session.add(inbox)
        await db.commit(session)
    return inbox


def message(sender: str, text: str | None = "hi", **extra: Any) -> dict[str, Any]:
    return {"from": sender, "id": extra.pop("id", uuid.uuid4().hex), "text": text, **extra}


async def post(
    client: httpx.AsyncClient, inbox: Inbox, body: dict[str, Any], secret: str = SECRET
) -> httpx.Response:
    raw = orjson.dumps(body)
    return await client.post(
        f"/webhooks/{inbox.channel}/{inbox.id}",
        content=raw,
        headers={"content-type": "application/json", "x-test-signature": sign(raw, secret)},
    )
