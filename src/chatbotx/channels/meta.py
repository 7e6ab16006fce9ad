"""Meta's Messenger Platform, shared by Messenger and Instagram: the hub.challenge handshake,
X-Hub-Signature-256 webhooks (`entry[].messaging[]` / `standby[]`), Send API bodies, Graph error mapping
and the adapter base.

Wire formats: reference/channels.md sections 3 and 4. User documentation: docs/channels/messenger.md and
docs/channels/instagram.md. The channel modules (messenger.py, instagram.py) say where to send and how to
connect; everything else is here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import re
from typing import Any, ClassVar

import httpx
import orjson

from chatbotx.channels.base import (
    BLOCKED_BY_USER,
    INVALID_MESSAGE,
    INVALID_RECIPIENT,
    OUTSIDE_WINDOW,
    PROVIDER_ERROR,
    PROVIDER_UNAVAILABLE,
    RATE_LIMITED,
    TOKEN_INVALID,
    Attachment,
    AttachmentKind,
    Button,
    ChannelContext,
    ContentType,
    DeliveryStatus,
    InboundEvent,
    InboundMessage,
    InboundStatus,
    OutboundMessage,
    ProviderError,
    RatePlan,
    SendResult,
    WebhookRequest,
)
from chatbotx.dispatcher.policy import MESSAGE_TAGS
from chatbotx.kit.errors import invalid_field

DEFAULT_API_VERSION = "v22.0"
# Meta: 300 Send API calls/s per Page (or Instagram account) for text, links, reactions and stickers.
DEFAULT_MESSAGES_PER_SECOND = 300
MAX_MESSAGES_PER_SECOND = 1000

MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_TEXT = 640
MAX_PAYLOAD = 1000
# Our own sends carry this metadata; their echoes come back with it and are dropped (already stored).
OWN_METADATA = "chatbotx:"
# A receipt that covers every message sent before a time: "watermark:<contact id>:<ms since the epoch>".
WATERMARK_PREFIX = "watermark:"
SENDER_ACTIONS = frozenset({"typing_on", "typing_off", "mark_seen"})

_API_VERSION = re.compile(r"^v?(\d{1,3}\.\d{1,3})$")
_OUT_KINDS: dict[str, str] = {"image": "image", "video": "video", "audio": "audio", "file": "file"}
_IN_KINDS: dict[str, AttachmentKind] = {"image": "image", "video": "video", "audio": "audio", "file": "file"}

# Graph error codes (error.code) -> our codes. Keyed on the code, never the HTTP status alone.
_THROTTLED: dict[int, float] = {
    4: 60.0,  # application request limit
    17: 60.0,  # user request limit
    32: 60.0,  # Page request limit
    613: 60.0,  # custom rate limit
    80006: 60.0,  # Messenger rate limit
}
_AUTH = {102, 190, *range(200, 300)}
_UNAVAILABLE = {1, 2}
_NO_SUCH_USER = {2018001, 2018109}  # "No matching user found", "...unavailable" subcodes of #100


# --- configuration ------------------------------------------------------------------------------------------


def value(ctx: ChannelContext, key: str) -> Any:
    """A setting: from the secrets first (pageAccessToken, accessToken, appSecret), then from config."""
    found = ctx.credentials.get(key)
    return found if found not in (None, "") else ctx.config.get(key)


def api_version(config: dict[str, Any], default: str = DEFAULT_API_VERSION) -> str:
    """The Graph API version of `config` (`apiVersion`, with or without its "v"), else `default`."""
    match = _API_VERSION.match(str(config.get("apiVersion") or default).strip())
    return f"v{match.group(1)}" if match else default


def messages_per_second(config: dict[str, Any], default: int = DEFAULT_MESSAGES_PER_SECOND) -> int:
    """The channel's send rate: `messagesPerSecond` of `config` within 1..MAX, else `default`."""
    raw = config.get("messagesPerSecond")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return default
    return max(1, min(MAX_MESSAGES_PER_SECOND, int(raw)))


def check_common_config(ctx: ChannelContext) -> None:
    """apiVersion and messagesPerSecond, when given, must be usable (422 naming the field)."""
    version = ctx.config.get("apiVersion")
    if version is not None and not _API_VERSION.match(str(version).strip()):
        raise invalid_field("config.apiVersion", 'must look like "v22.0"')
    mps = ctx.config.get("messagesPerSecond")
    if mps is not None and (
        isinstance(mps, bool) or not isinstance(mps, int) or not 1 <= mps <= MAX_MESSAGES_PER_SECOND
    ):
        raise invalid_field(
            "config.messagesPerSecond", f"must be an integer from 1 to {MAX_MESSAGES_PER_SECOND}"
        )


def require(ctx: ChannelContext, channel_name: str, *keys: str) -> None:
    for key in keys:
        if not value(ctx, key):
            raise invalid_field(f"config.{key}", f"is required for a {channel_name} channel")


def numeric_id(ctx: ChannelContext, key: str, what: str) -> str:
    raw = str(value(ctx, key) or "").strip()
    if not re.fullmatch(r"\d{1,32}", raw):
        raise invalid_field(f"config.{key}", f"must be the numeric {what}")
    return raw


# --- Graph calls and errors ---------------------------------------------------------------------------------


def signature_of(app_secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value Meta sends for `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def answer_handshake(verify_token: str, request: WebhookRequest) -> tuple[int, bytes] | None:
    """Meta's subscription check (every Graph webhook): 200 with hub.challenge when hub.mode is subscribe and
    hub.verify_token matches (constant time), else 403; None when the request is not a handshake."""
    if request.method.upper() != "GET" or "hub.mode" not in request.query:
        return None
    given = request.query.get("hub.verify_token", "")
    if (
        request.query.get("hub.mode") == "subscribe"
        and verify_token
        and hmac.compare_digest(given.encode(), verify_token.encode())
    ):
        return 200, request.query.get("hub.challenge", "").encode()
    return 403, b"Forbidden"


def signed_by(app_secret: str, request: WebhookRequest) -> bool:
    """Whether X-Hub-Signature-256 is the HMAC of the raw body with `app_secret` (constant time)."""
    given = request.headers.get("x-hub-signature-256", "")
    if not app_secret or not given.startswith("sha256="):
        return False
    return hmac.compare_digest(given.encode(), signature_of(app_secret, request.body).encode())


def appsecret_proof(app_secret: str, token: str) -> str:
    """Graph's appsecret_proof: HMAC-SHA256 of the access token keyed with the app secret (hex)."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def error_fields(body: Any) -> tuple[int | None, int | None, str]:
    """(code, subcode, message) of a Graph error body."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None, ""

    def number(raw: Any) -> int | None:
        return int(raw) if isinstance(raw, int | str) and str(raw).lstrip("-").isdigit() else None

    return number(error.get("code")), number(error.get("error_subcode")), str(error.get("message") or "")


def error_code_for(code: int | None, subcode: int | None, http_status: int | None = None) -> tuple[str, bool]:
    """Our stable code for a Messenger Platform error, and whether the send may be retried."""
    if code == 10 or subcode == 2018278:
        return OUTSIDE_WINDOW, False
    if code == 551 or subcode == 1545041:
        return BLOCKED_BY_USER, False
    if code in _THROTTLED or http_status == 429:
        return RATE_LIMITED, True
    if code in _AUTH or http_status == 401:
        return TOKEN_INVALID, False
    if code == 100 and subcode in _NO_SUCH_USER:
        return INVALID_RECIPIENT, False
    if code == 100:
        return INVALID_MESSAGE, False
    if code in _UNAVAILABLE or (http_status is not None and http_status >= 500):
        return PROVIDER_UNAVAILABLE, True
    return PROVIDER_ERROR, False


def provider_error(response: httpx.Response, channel_name: str) -> ProviderError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code, subcode, message = error_fields(body)
    ours, retryable = error_code_for(code, subcode, response.status_code)
    text = message or f"{channel_name} answered HTTP {response.status_code}"
    retry_after: float | None = None
    header = response.headers.get("retry-after", "")
    if header.replace(".", "", 1).isdigit():
        retry_after = float(header)
    elif ours == RATE_LIMITED:
        retry_after = _THROTTLED.get(code or 0, 1.0)
    return ProviderError(ours, text, provider_code=code, retry_after=retry_after, retryable=retryable)


def json_content(body: Any) -> tuple[bytes, dict[str, str]]:
    """A request body as JSON bytes and its content type (orjson: a tenth of the CPU of httpx's `json=`; the
    standard library for what orjson refuses, such as integers beyond 64 bits)."""
    try:
        content = orjson.dumps(body)
    except TypeError:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    return content, {"Content-Type": "application/json"}


def json_of(response: httpx.Response, channel_name: str) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except ValueError as exc:
        raise ProviderError(PROVIDER_ERROR, f"{channel_name} answered with a body that is not JSON") from exc
    if not isinstance(body, dict):
        raise ProviderError(PROVIDER_ERROR, f"{channel_name} answered with an unexpected body")
    if "error" in body:  # a 2xx carrying an error is still an error
        raise provider_error(response, channel_name)
    return body


# --- inbound ------------------------------------------------------------------------------------------------


def _obj(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _ms_time(raw: Any) -> dt.datetime | None:
    """Messenger timestamps are milliseconds since the epoch (sometimes as strings)."""
    try:
        ms = int(raw)
    except (TypeError, ValueError):
        return None
    try:
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def watermark_id(contact: str, ms: int) -> str:
    return f"{WATERMARK_PREFIX}{contact}:{ms}"


def parse_watermark(provider_message_id: str) -> tuple[str, dt.datetime] | None:
    """(contact source id, time) of a watermark receipt's id, or None for a receipt of one message."""
    if not provider_message_id.startswith(WATERMARK_PREFIX):
        return None
    contact, _, ms = provider_message_id[len(WATERMARK_PREFIX) :].rpartition(":")
    at = _ms_time(ms)
    return (contact, at) if contact and at is not None else None


@dataclasses.dataclass(frozen=True, slots=True)
class ParseOptions:
    object_name: str  # "page" or "instagram"
    account_id: str | None = None  # this inbox's Page / Instagram account: other entries are skipped
    app_id: str | None = None  # our app: its echoes are our own sends (already stored)


def _attachment_parts(
    message: dict[str, Any],
) -> tuple[list[Attachment], dict[str, Any]]:
    attachments: list[Attachment] = []
    attributes: dict[str, Any] = {}
    shares: list[dict[str, Any]] = []
    for item in message.get("attachments") or []:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type") or "")
        payload = _obj(item.get("payload"))
        url = payload.get("url")
        if kind in _IN_KINDS and url:
            ours: AttachmentKind = "sticker" if payload.get("sticker_id") else _IN_KINDS[kind]
            attachments.append(Attachment(kind=ours, url=str(url)))
            if payload.get("sticker_id"):
                attributes["stickerId"] = payload["sticker_id"]
        elif kind == "story_mention" and url:
            # The story's media (image or video); its CDN link expires, so it is downloaded now.
            is_video = str(url).split("?", 1)[0].lower().endswith((".mp4", ".mov"))
            attachments.append(Attachment(kind="video" if is_video else "image", url=str(url)))
            attributes["storyMention"] = {"url": url}
        elif kind == "location":
            coordinates = _obj(payload.get("coordinates"))
            attributes["location"] = {
                k: v
                for k, v in (
                    ("latitude", coordinates.get("lat")),
                    ("longitude", coordinates.get("long")),
                    ("name", item.get("title")),
                    ("url", item.get("url")),
                )
                if v is not None
            }
        else:  # share, reel, ig_reel, fallback (a shared link), template: kept as links
            share = {
                "type": kind,
                "url": url or item.get("url"),
                "title": item.get("title") or payload.get("title"),
            }
            shares.append({k: v for k, v in share.items() if v})
    if shares:
        attributes["shares"] = shares
    return attachments, attributes


def _message_event(
    item: dict[str, Any], message: dict[str, Any], options: ParseOptions
) -> InboundMessage | None:
    sender = str(_obj(item.get("sender")).get("id") or "")
    recipient = str(_obj(item.get("recipient")).get("id") or "")
    mid = str(message.get("mid") or "")
    if not mid or message.get("is_deleted"):
        return None  # an unsent (deleted) message: nothing new to store
    echo = bool(message.get("is_echo"))
    if echo:
        metadata = str(message.get("metadata") or "")
        if metadata.startswith(OWN_METADATA):
            return None  # our own send: stored when we sent it
        if options.app_id and str(message.get("app_id") or "") == options.app_id:
            return None
    contact = recipient if echo else sender
    if not contact:
        return None
    text = message.get("text")
    attachments, attributes = _attachment_parts(message)
    quick_reply = _obj(message.get("quick_reply"))
    content_type: ContentType
    if quick_reply:
        content_type = "button"
        attributes["payload"] = quick_reply.get("payload")
        attributes["quickReply"] = True
    elif attachments:
        content_type = attachments[0].kind
    elif "location" in attributes:
        content_type = "location"
    elif text or attributes.get("shares"):
        content_type = "text"
    else:
        content_type = "unsupported"
        attributes["raw"] = message
    reply_to = _obj(message.get("reply_to"))
    if reply_to.get("mid"):
        attributes["replyTo"] = reply_to["mid"]
    story = _obj(reply_to.get("story"))
    if story:
        attributes["storyReply"] = {k: story[k] for k in ("id", "url") if story.get(k)}
    if isinstance(message.get("referral"), dict):
        attributes["referral"] = message["referral"]
    if echo and message.get("app_id"):
        attributes["appId"] = str(message["app_id"])
    return InboundMessage(
        source_id=contact,
        provider_message_id=mid,
        content_type=content_type,
        text=str(text) if text else None,
        attachments=attachments,
        attributes=attributes,
        sent_at=_ms_time(item.get("timestamp")),
        echo=echo,
    )


def _postback_event(item: dict[str, Any], postback: dict[str, Any]) -> InboundMessage | None:
    sender = str(_obj(item.get("sender")).get("id") or "")
    if not sender:
        return None
    # Postbacks carry a mid nowadays; older ones only the sender and a timestamp (unique per sender).
    mid = str(postback.get("mid") or f"postback:{sender}:{item.get('timestamp')}")
    attributes: dict[str, Any] = {"payload": postback.get("payload"), "postback": True}
    if isinstance(postback.get("referral"), dict):
        attributes["referral"] = postback["referral"]
    title = postback.get("title")
    return InboundMessage(
        source_id=sender,
        provider_message_id=mid,
        content_type="button",
        text=str(title) if title else None,
        attributes=attributes,
        sent_at=_ms_time(item.get("timestamp")),
    )


def _receipts(item: dict[str, Any], receipt: dict[str, Any], status: DeliveryStatus) -> list[InboundStatus]:
    contact = str(_obj(item.get("sender")).get("id") or "") or None
    mids = [str(m) for m in receipt.get("mids") or [] if m]
    if receipt.get("mid"):
        mids.append(str(receipt["mid"]))
    at = _ms_time(receipt.get("watermark")) or _ms_time(item.get("timestamp"))
    statuses = [InboundStatus(mid, status, recipient_source_id=contact, at=at) for mid in mids]
    watermark = receipt.get("watermark")
    if not mids and contact and isinstance(watermark, int | str) and str(watermark).isdigit():
        statuses.append(
            InboundStatus(watermark_id(contact, int(watermark)), status, recipient_source_id=contact, at=at)
        )
    return statuses


def events_of(item: dict[str, Any], options: ParseOptions) -> list[InboundEvent]:
    """The normalized events of one `messaging[]` (or `standby[]`) item."""
    if isinstance(item.get("message"), dict):
        message = _message_event(item, item["message"], options)
        return [message] if message else []
    if isinstance(item.get("postback"), dict):
        postback = _postback_event(item, item["postback"])
        return [postback] if postback else []
    if isinstance(item.get("delivery"), dict):
        return list(_receipts(item, item["delivery"], "delivered"))
    if isinstance(item.get("read"), dict):
        return list(_receipts(item, item["read"], "read"))
    return []  # reactions, referrals, optins, handovers: not messages


def parse_payload(payload: Any, options: ParseOptions) -> list[InboundEvent]:
    """Every message and receipt of a webhook, in order; another Page's (account's) entries are skipped."""
    events: list[InboundEvent] = []
    if not isinstance(payload, dict) or payload.get("object") != options.object_name:
        return events
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        if options.account_id and str(entry.get("id") or options.account_id) != options.account_id:
            continue
        for key in ("messaging", "standby"):  # standby: sent while another app owns the thread
            for item in entry.get(key) or []:
                if isinstance(item, dict):
                    events.extend(events_of(item, options))
    return events


# --- outbound -----------------------------------------------------------------------------------------------


class Refused(ProviderError):
    """A message the channel cannot carry, refused before any call; `field` names the API field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(INVALID_MESSAGE, message)
        self.field = field


@dataclasses.dataclass(frozen=True, slots=True)
class Flavor:
    name: str  # "Messenger" or "Instagram"
    max_text: int
    metadata: bool  # whether message objects carry our metadata (echoes name our sends)
    reusable: bool  # whether attachments may ask to be reusable


def _button(button: Button) -> dict[str, Any]:
    if len(button.title) > MAX_BUTTON_TITLE:
        raise Refused("buttons", f"a button title may have at most {MAX_BUTTON_TITLE} characters")
    if button.url:
        return {"type": "web_url", "url": button.url, "title": button.title}
    payload = button.payload or button.title
    if len(payload) > MAX_PAYLOAD:
        raise Refused("buttons", f"a button payload may have at most {MAX_PAYLOAD} characters")
    return {"type": "postback", "title": button.title, "payload": payload}


def _quick_reply(button: Button) -> dict[str, Any]:
    if button.url:
        raise Refused("quickReplies", "a quick reply cannot be a link")
    if len(button.title) > MAX_QUICK_REPLY_TITLE:
        raise Refused(
            "quickReplies", f"a quick reply title may have at most {MAX_QUICK_REPLY_TITLE} characters"
        )
    payload = button.payload or button.title
    if len(payload) > MAX_PAYLOAD:
        raise Refused("quickReplies", f"a quick reply payload may have at most {MAX_PAYLOAD} characters")
    return {"content_type": "text", "title": button.title, "payload": payload}


def _attachment(attachment: Attachment, flavor: Flavor) -> dict[str, Any]:
    kind = _OUT_KINDS.get(attachment.kind, "image" if attachment.kind == "sticker" else None)
    if kind is None:  # pragma: no cover - every AttachmentKind maps
        raise Refused("files", f"{flavor.name} cannot send a {attachment.kind} attachment")
    if attachment.provider_file_id and not attachment.url:
        payload: dict[str, Any] = {"attachment_id": attachment.provider_file_id}
    elif attachment.url:
        payload = {"url": attachment.url}
        if flavor.reusable:
            payload["is_reusable"] = True
    else:
        raise Refused("files", "an attachment needs a URL")
    return {"attachment": {"type": kind, "payload": payload}}


def message_objects(message: OutboundMessage, flavor: Flavor) -> list[dict[str, Any]]:
    """The Send API `message` objects of one outbound message, in order: each attachment, then the text (as a
    button template when there are buttons), with the quick replies on the last one."""
    if message.template is not None:
        raise Refused(
            "template", f"{flavor.name} has no templates; outside the window send with a message tag instead"
        )
    text = message.text or None
    if len(message.quick_replies) > MAX_QUICK_REPLIES:
        raise Refused("quickReplies", f"{flavor.name} allows at most {MAX_QUICK_REPLIES} quick replies")
    if len(message.buttons) > MAX_BUTTONS:
        raise Refused("buttons", f"{flavor.name} allows at most {MAX_BUTTONS} buttons")
    objects = [_attachment(a, flavor) for a in message.attachments]
    if message.buttons:
        if not text:
            raise Refused("text", "buttons need a text to go with them")
        if len(text) > MAX_BUTTON_TEXT:
            raise Refused("text", f"a message with buttons may have at most {MAX_BUTTON_TEXT} characters")
        template = {"template_type": "button", "text": text, "buttons": [_button(b) for b in message.buttons]}
        objects.append({"attachment": {"type": "template", "payload": template}})
    elif text:
        if len(text) > flavor.max_text:
            raise Refused("text", f"a {flavor.name} text may have at most {flavor.max_text} characters")
        objects.append({"text": text})
    if message.quick_replies:
        if not text:
            raise Refused("text", "quick replies need a text to go with them")
        objects[-1]["quick_replies"] = [_quick_reply(q) for q in message.quick_replies]
    if not objects:
        raise Refused("text", "nothing to send: no text, attachment or buttons")
    if flavor.metadata:
        for item in objects:
            item["metadata"] = f"{OWN_METADATA}{message.message_id}"
    return objects


def build_requests(message: OutboundMessage, flavor: Flavor) -> list[dict[str, Any]]:
    """The Send API bodies of one outbound message: RESPONSE inside the window, MESSAGE_TAG with a tag."""
    envelope: dict[str, Any] = {"recipient": {"id": message.recipient}}
    if message.tag is not None:
        if message.tag not in MESSAGE_TAGS:
            raise Refused("tag", f"must be one of {', '.join(MESSAGE_TAGS)}")
        envelope.update(messaging_type="MESSAGE_TAG", tag=message.tag)
    else:
        envelope["messaging_type"] = "RESPONSE"
    return [{**envelope, "message": item} for item in message_objects(message, flavor)]


# --- the adapter base ---------------------------------------------------------------------------------------


class MessengerPlatformAdapter:
    """What Messenger and Instagram adapters share; subclasses give the channel, its API and its connect."""

    channel: ClassVar[str]
    window: ClassVar[dt.timedelta | None] = dt.timedelta(hours=24)
    flavor: ClassVar[Flavor]
    object_name: ClassVar[str]

    # -- what subclasses decide

    def account_id(self, ctx: ChannelContext) -> str | None:
        """The Page / Instagram account whose webhook entries belong to this inbox."""
        raise NotImplementedError

    def api_url(self, ctx: ChannelContext, path: str) -> str:
        raise NotImplementedError

    def sender_path(self, ctx: ChannelContext) -> str:
        """The node that sends: the Page, or the Instagram account (Instagram Login)."""
        raise NotImplementedError

    def token(self, ctx: ChannelContext) -> str:
        raise NotImplementedError

    def proves_app_secret(self, ctx: ChannelContext) -> bool:
        """Whether calls carry appsecret_proof (Facebook Graph calls with a Page token)."""
        return True

    # -- calls

    def params(self, ctx: ChannelContext) -> dict[str, str]:
        token = self.token(ctx)
        params = {"access_token": token}
        secret = str(value(ctx, "appSecret") or "")
        if secret and token and self.proves_app_secret(ctx):
            params["appsecret_proof"] = appsecret_proof(secret, token)
        return params

    async def call(
        self,
        ctx: ChannelContext,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        name = self.flavor.name
        if json is not None:
            kwargs["content"], kwargs["headers"] = json_content(json)
        try:
            response = await ctx.http.request(
                method, self.api_url(ctx, path), params={**self.params(ctx), **(params or {})}, **kwargs
            )
        except httpx.TransportError as exc:
            raise ProviderError(PROVIDER_UNAVAILABLE, f"{name} unreachable: {exc!r}", retryable=True) from exc
        if response.status_code >= 400:
            raise provider_error(response, name)
        return json_of(response, name)

    async def check_token(self, ctx: ChannelContext, path: str, fields: str, hint: str) -> dict[str, Any]:
        """GET the node the channel acts as; a wrong id is a 422 naming it, a wrong token TOKEN_INVALID."""
        try:
            return await self.call(ctx, "GET", path, params={"fields": fields})
        except ProviderError as exc:
            if exc.provider_code == 100 and "appsecret_proof" in exc.message:
                raise invalid_field(
                    "config.appSecret", f"is not the secret of the app the token belongs to ({exc.message})"
                ) from exc
            if exc.provider_code == 100:
                raise invalid_field(hint, f"{self.flavor.name} does not know it: {exc.message}") from exc
            if exc.code == TOKEN_INVALID:
                raise ProviderError(
                    TOKEN_INVALID,
                    f"{self.flavor.name} refused the access token ({exc.message})",
                    provider_code=exc.provider_code,
                ) from exc
            raise

    # -- the ChannelAdapter contract

    def rate_plan(self, config: dict[str, Any]) -> RatePlan:
        return RatePlan(per_second=messages_per_second(config))

    async def handshake(self, ctx: ChannelContext, request: WebhookRequest) -> tuple[int, bytes] | None:
        return answer_handshake(str(value(ctx, "verifyToken") or ""), request)

    def verify(self, ctx: ChannelContext, request: WebhookRequest) -> bool:
        return signed_by(str(value(ctx, "appSecret") or ""), request)

    def parse(self, ctx: ChannelContext, request: WebhookRequest) -> list[InboundEvent]:
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return []
        app_id = value(ctx, "appId")
        options = ParseOptions(self.object_name, self.account_id(ctx), str(app_id) if app_id else None)
        return parse_payload(payload, options)

    async def download(self, ctx: ChannelContext, attachment: Attachment) -> tuple[bytes, str | None]:
        """Attachment URLs are signed CDN links: fetched without our token (it must not leave for a CDN)."""
        if not attachment.url:
            raise ProviderError(PROVIDER_ERROR, f"{self.flavor.name} gave no URL for the attachment")
        try:
            response = await ctx.http.get(attachment.url, follow_redirects=True)
        except httpx.TransportError as exc:
            raise ProviderError(
                PROVIDER_UNAVAILABLE, f"attachment unreachable: {exc!r}", retryable=True
            ) from exc
        if response.status_code >= 400:
            raise ProviderError(
                PROVIDER_ERROR, f"the attachment URL answered HTTP {response.status_code} (expired?)"
            )
        content_type = response.headers.get("content-type", "").split(";")[0].strip() or None
        return response.content, attachment.mime_type or content_type

    def validate(self, message: OutboundMessage) -> None:
        """Refuse (422 naming the field) what this channel cannot carry, before anything is queued."""
        try:
            build_requests(message, self.flavor)
        except Refused as exc:
            raise invalid_field(exc.field, exc.message) from exc

    async def send(self, ctx: ChannelContext, message: OutboundMessage) -> SendResult:
        bodies = build_requests(message, self.flavor)
        path = f"{self.sender_path(ctx)}/messages"
        provider_id = ""
        for body in bodies:
            answer = await self.call(ctx, "POST", path, json=body)
            provider_id = str(answer.get("message_id") or "")
            if not provider_id:
                raise ProviderError(
                    PROVIDER_ERROR, f"{self.flavor.name} accepted the message but returned no message id"
                )
        # Several requests (attachments, then the text) make one message of ours; the last one stands for it.
        return SendResult(provider_message_id=provider_id)

    async def sender_action(self, ctx: ChannelContext, recipient: str, action: str) -> None:
        """typing_on, typing_off or mark_seen in the contact's thread."""
        if action not in SENDER_ACTIONS:
            raise ProviderError(INVALID_MESSAGE, f"unknown sender action {action!r}")
        body = {"recipient": {"id": recipient}, "sender_action": action}
        await self.call(ctx, "POST", f"{self.sender_path(ctx)}/messages", json=body)


def graph_url(base: str, config: dict[str, Any], path: str) -> str:
    return f"{base.rstrip('/')}/{api_version(config)}/{path}"
