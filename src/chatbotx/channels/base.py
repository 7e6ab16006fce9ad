"""The contract every channel adapter implements, and the normalized shapes the pipeline speaks.

Inbound: a provider webhook -> `verify` -> `parse` -> a list of `InboundMessage` / `InboundStatus`.
Outbound: an `OutboundMessage` -> `send` -> `SendResult`, or a `ProviderError` with a stable `code` of ours.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, ClassVar, Literal, Protocol

import httpx

ContentType = Literal[
    "text", "image", "video", "audio", "file", "sticker", "location", "contact", "button", "unsupported"
]
AttachmentKind = Literal["image", "video", "audio", "file", "sticker"]
DeliveryStatus = Literal["sent", "delivered", "read", "failed"]


@dataclasses.dataclass(slots=True)
class Attachment:
    kind: AttachmentKind
    url: str | None = None  # a URL the provider (outbound) or we (inbound, after download) can fetch
    provider_file_id: str | None = None  # Telegram file_id, WhatsApp media id
    mime_type: str | None = None
    filename: str | None = None
    size: int | None = None
    caption: str | None = None


@dataclasses.dataclass(slots=True)
class ContactProfile:
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    phone_number: str | None = None  # E.164 when the channel gives one (WhatsApp wa_id)
    email: str | None = None  # the sender's address (email channel; a webchat visitor who left one)
    locale: str | None = None
    avatar: str | None = None


@dataclasses.dataclass(slots=True)
class InboundMessage:
    """A message a contact sent us, in one normalized form for every channel."""

    source_id: str  # the contact's id on this channel: Telegram chat id, WhatsApp wa_id, PSID, address
    provider_message_id: str  # unique per inbox; the pipeline stores a message once per (inbox, this)
    content_type: ContentType
    text: str | None = None
    attachments: list[Attachment] = dataclasses.field(default_factory=list)
    # Channel specifics in a common vocabulary: {"payload": button/callback data, "location": {"latitude",
    # "longitude", "name", "address"}, "contacts": [...], "replyTo": provider id, "raw": {...}}
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    profile: ContactProfile = dataclasses.field(default_factory=ContactProfile)
    sent_at: dt.datetime | None = None
    # Threaded channels (email): the provider ids this message answers (In-Reply-To, then References, nearest
    # first). The message joins the conversation holding one of them; with none found it starts a new
    # conversation. None (every other channel): the contact's latest conversation on the inbox.
    thread: list[str] | None = None
    # The business's own message, sent from elsewhere (Meta's Page inbox, the phone app): stored as outgoing,
    # `source_id` is the contact it went to; it neither reopens the conversation nor opens the window.
    echo: bool = False


@dataclasses.dataclass(slots=True)
class InboundStatus:
    """A delivery or read receipt for a message we sent."""

    provider_message_id: str
    status: DeliveryStatus
    recipient_source_id: str | None = None
    error_code: str | None = None  # ours (see ProviderError.code) when status is "failed"
    error_message: str | None = None
    at: dt.datetime | None = None


InboundEvent = InboundMessage | InboundStatus


@dataclasses.dataclass(slots=True)
class Button:
    title: str
    payload: str | None = None  # postback / callback data
    url: str | None = None  # a link button instead of a postback


@dataclasses.dataclass(slots=True)
class Template:
    """A pre-approved template (WhatsApp) with its parameters."""

    name: str
    language: str
    components: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class OutboundMessage:
    message_id: int  # our Message id: the idempotency key of the send
    recipient: str  # ContactInbox.source_id
    text: str | None = None
    attachments: list[Attachment] = dataclasses.field(default_factory=list)
    buttons: list[Button] = dataclasses.field(default_factory=list)
    quick_replies: list[Button] = dataclasses.field(default_factory=list)
    template: Template | None = None
    tag: str | None = None  # Messenger message tag outside the window


@dataclasses.dataclass(slots=True)
class SendResult:
    provider_message_id: str


# Our stable error codes for provider failures.
RATE_LIMITED = "RATE_LIMITED"
BLOCKED_BY_USER = "BLOCKED_BY_USER"
TOKEN_INVALID = "TOKEN_INVALID"
OUTSIDE_WINDOW = "OUTSIDE_WINDOW"
INVALID_RECIPIENT = "INVALID_RECIPIENT"
INVALID_MESSAGE = "INVALID_MESSAGE"
PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
PROVIDER_ERROR = "PROVIDER_ERROR"


class ProviderError(Exception):
    """A provider refused or failed; `retryable` errors are retried (after `retry_after` seconds if given)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        provider_code: str | int | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.provider_code = provider_code
        self.retry_after = retry_after
        self.retryable = retryable


@dataclasses.dataclass(slots=True)
class ChannelContext:
    """What an adapter needs for one inbox: its config, its decrypted credentials, and an HTTP client."""

    inbox_id: int
    workspace_id: int
    config: dict[str, Any]
    credentials: dict[str, Any]
    http: httpx.AsyncClient
    public_url: str  # our own base URL (for webhook URLs and media links)


@dataclasses.dataclass(slots=True)
class WebhookRequest:
    method: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    body: bytes  # the raw body: signatures are computed over it


@dataclasses.dataclass(slots=True)
class RatePlan:
    """Throughput limits the dispatcher enforces before calling `send`."""

    per_second: float | None  # per inbox (None = unlimited)
    per_recipient_per_second: float | None = None
    burst: int = 1


class ChannelAdapter(Protocol):
    channel: ClassVar[str]
    # Free-form messages only within this long after the contact's last inbound message (None: no window).
    window: ClassVar[dt.timedelta | None]

    def rate_plan(self, config: dict[str, Any]) -> RatePlan: ...

    async def connect(self, ctx: ChannelContext) -> dict[str, Any]:
        """Check the credentials with the provider and register our webhook; returns config to store.
        Raises ProviderError (TOKEN_INVALID, ...) with a clear message when they are wrong."""
        ...

    async def handshake(self, ctx: ChannelContext, request: WebhookRequest) -> tuple[int, bytes] | None:
        """Answer a provider's GET verification (Meta's hub.challenge), or None when not one."""
        ...

    def verify(self, ctx: ChannelContext, request: WebhookRequest) -> bool:
        """Whether the webhook really comes from the provider (secret token, signature over the raw body)."""
        ...

    def parse(self, ctx: ChannelContext, request: WebhookRequest) -> list[InboundEvent]:
        """The normalized events in a verified webhook (unknown kinds are skipped, never an error)."""
        ...

    async def download(self, ctx: ChannelContext, attachment: Attachment) -> tuple[bytes, str | None]:
        """The bytes and MIME type of an inbound attachment."""
        ...

    async def send(self, ctx: ChannelContext, message: OutboundMessage) -> SendResult:
        """Send one message in the channel's own format; raises ProviderError mapped to our codes."""
        ...
