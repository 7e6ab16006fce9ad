"""Telegram Bot API adapter: webhook registration with a secret token, Update parsing, sends, error mapping.

Wire formats: reference/channels.md section 1. The bot token lives in the inbox's encrypted credentials
(`botToken`), and so does the webhook secret connect generates (`webhookSecret`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import mimetypes
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import httpx
import orjson

from chatbotx.channels.base import (
    BLOCKED_BY_USER,
    INVALID_MESSAGE,
    INVALID_RECIPIENT,
    PROVIDER_ERROR,
    PROVIDER_UNAVAILABLE,
    RATE_LIMITED,
    TOKEN_INVALID,
    Attachment,
    AttachmentKind,
    Button,
    ChannelContext,
    ContactProfile,
    InboundEvent,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RatePlan,
    SendResult,
    WebhookRequest,
)
from chatbotx.channels.registry import register
from chatbotx.settings import get_settings

log = logging.getLogger(__name__)

SECRET_HEADER = "x-telegram-bot-api-secret-token"
# Edited messages are not subscribed to: a stored message is never rewritten (see docs/channels/telegram.md).
ALLOWED_UPDATES = ("message", "callback_query")
# Bot FAQ: about 30 messages/s overall, avoid more than 1/s in one chat (short bursts tolerated).
DEFAULT_PER_SECOND = 30.0
PER_CHAT_PER_SECOND = 1.0
PER_CHAT_BURST = 3
MAX_PER_SECOND = 1000.0  # paid broadcasts raise a bot's limit up to 1000/s
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
QUICK_REPLIES_PER_ROW = 3
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

# Attachment kind -> (Bot API method, its file field). Stickers take no caption.
SEND_METHODS: dict[str, tuple[str, str]] = {
    "image": ("sendPhoto", "photo"),
    "video": ("sendVideo", "video"),
    "audio": ("sendAudio", "audio"),
    "file": ("sendDocument", "document"),
    "sticker": ("sendSticker", "sticker"),
}
# Inbound message keys holding a file -> our attachment kind.
MEDIA_KINDS: dict[str, AttachmentKind] = {
    "photo": "image",
    "animation": "video",
    "video": "video",
    "video_note": "video",
    "voice": "audio",
    "audio": "audio",
    "document": "file",
    "sticker": "sticker",
}
DEFAULT_MIME = {"photo": "image/jpeg", "video_note": "video/mp4", "voice": "audio/ogg"}


# ---------------------------------------------------------------------------------------------- errors


def error_from_response(status: int, body: Any) -> ProviderError:
    """Our ProviderError for a failed Bot API call (keyed on the HTTP status, as the Bot API advises)."""
    envelope = body if isinstance(body, dict) else {}
    description = str(envelope.get("description") or f"HTTP {status}")
    code = envelope.get("error_code") or status
    raw_parameters = envelope.get("parameters")
    parameters: dict[str, Any] = raw_parameters if isinstance(raw_parameters, dict) else {}
    lowered = description.lower()
    if status == 429:
        retry_after = parameters.get("retry_after")
        return ProviderError(
            RATE_LIMITED,
            description,
            provider_code=code,
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            retryable=True,
        )
    if status in (401, 404):  # 404 is what a malformed token gets
        return ProviderError(TOKEN_INVALID, description, provider_code=code)
    if status == 403:
        blocked = "blocked" in lowered or "kicked" in lowered
        return ProviderError(
            BLOCKED_BY_USER if blocked else INVALID_RECIPIENT, description, provider_code=code
        )
    if status == 400:
        recipient = (
            "chat not found" in lowered
            or "user not found" in lowered
            or "peer_id_invalid" in lowered
            or "migrate_to_chat_id" in parameters
        )
        return ProviderError(
            INVALID_RECIPIENT if recipient else INVALID_MESSAGE, description, provider_code=code
        )
    if status >= 500:
        return ProviderError(PROVIDER_UNAVAILABLE, description, provider_code=code, retryable=True)
    return ProviderError(PROVIDER_ERROR, description, provider_code=code)


# ---------------------------------------------------------------------------------------------- parsing


def _profile(user: dict[str, Any] | None) -> ContactProfile:
    user = user or {}
    return ContactProfile(
        first_name=user.get("first_name"),
        last_name=user.get("last_name"),
        username=user.get("username"),
        locale=user.get("language_code"),
    )


def _timestamp(value: Any) -> dt.datetime | None:
    if isinstance(value, int):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


def _attachment(key: str, value: Any, caption: str | None) -> Attachment | None:
    if key == "photo":
        # Several sizes of one picture, smallest first: keep the largest.
        if not isinstance(value, list) or not value:
            return None
        value = value[-1]
    if not isinstance(value, dict) or not value.get("file_id"):
        return None
    mime = value.get("mime_type") or DEFAULT_MIME.get(key)
    if key == "sticker":
        mime = (
            "application/x-tgsticker"
            if value.get("is_animated")
            else "video/webm"
            if value.get("is_video")
            else "image/webp"
        )
    return Attachment(
        kind=MEDIA_KINDS[key],
        provider_file_id=str(value["file_id"]),
        mime_type=mime,
        filename=value.get("file_name"),
        size=value.get("file_size"),
        caption=caption,
    )


def parse_message(message: dict[str, Any]) -> InboundMessage | None:
    """A Telegram Message a user sent, normalized; None for service messages (joins, pins, ...)."""
    chat = message.get("chat") or {}
    if "id" not in chat or "message_id" not in message:
        return None
    chat_id = str(chat["id"])
    caption = message.get("caption")
    attributes: dict[str, Any] = {"chatType": chat.get("type")}
    reply = message.get("reply_to_message")
    if isinstance(reply, dict) and "message_id" in reply:
        attributes["replyTo"] = f"{chat_id}:{reply['message_id']}"
    result = InboundMessage(
        source_id=chat_id,
        provider_message_id=f"{chat_id}:{message['message_id']}",
        content_type="unsupported",
        profile=_profile(message.get("from") or (chat if chat.get("type") == "private" else None)),
        sent_at=_timestamp(message.get("date")),
        attributes=attributes,
    )
    if isinstance(message.get("text"), str):
        result.content_type, result.text = "text", message["text"]
        return result
    # An animation also carries a `document` copy of itself: check it first.
    for key in ("animation", "photo", "video", "video_note", "voice", "audio", "document", "sticker"):
        if key in message:
            attachment = _attachment(key, message[key], caption)
            if attachment is None:
                break
            text = caption if key != "sticker" else message[key].get("emoji")
            result.content_type, result.text, result.attachments = attachment.kind, text, [attachment]
            return result
    if isinstance(message.get("location"), dict):
        location = message["location"]
        raw_venue = message.get("venue")
        venue: dict[str, Any] = raw_venue if isinstance(raw_venue, dict) else {}
        attributes["location"] = {
            "latitude": location.get("latitude"),
            "longitude": location.get("longitude"),
            "name": venue.get("title"),
            "address": venue.get("address"),
        }
        result.content_type = "location"
        return result
    if isinstance(message.get("contact"), dict):
        shared = message["contact"]
        attributes["contacts"] = [
            {
                "firstName": shared.get("first_name"),
                "lastName": shared.get("last_name"),
                "phoneNumber": shared.get("phone_number"),
                "userId": str(shared["user_id"]) if shared.get("user_id") is not None else None,
                "vcard": shared.get("vcard"),
            }
        ]
        name = " ".join(p for p in (shared.get("first_name"), shared.get("last_name")) if p)
        result.content_type, result.text = "contact", name or shared.get("phone_number")
        return result
    attributes["raw"] = message
    return result


def parse_callback_query(update: dict[str, Any]) -> InboundMessage | None:
    """A tap on an inline keyboard button: content type "button" with attributes.payload = its data."""
    query = update.get("callback_query") or {}
    message = query.get("message") or {}
    chat = message.get("chat") or {}
    if not query.get("id") or "id" not in chat:
        return None  # a button on an inline-mode message has no chat to answer in
    chat_id = str(chat["id"])
    attributes: dict[str, Any] = {
        "payload": query.get("data"),
        "callbackQueryId": str(query["id"]),
        "chatType": chat.get("type"),
    }
    if "message_id" in message:
        attributes["replyTo"] = f"{chat_id}:{message['message_id']}"
    title = _button_title(message.get("reply_markup"), query.get("data"))
    return InboundMessage(
        source_id=chat_id,
        # The callback query id is unique and stays the same when Telegram redelivers the update.
        provider_message_id=f"callback:{query['id']}",
        content_type="button",
        text=title if title is not None else query.get("data"),
        attributes=attributes,
        profile=_profile(query.get("from")),
    )


def _button_title(markup: Any, data: Any) -> str | None:
    """The title of the tapped button, from the keyboard Telegram echoes with the message."""
    if not isinstance(markup, dict):
        return None
    for row in markup.get("inline_keyboard") or []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and button.get("callback_data") == data:
                return button.get("text")
    return None


def parse_update(update: Any) -> list[InboundEvent]:
    if not isinstance(update, dict):
        return []
    if isinstance(update.get("message"), dict):
        parsed = parse_message(update["message"])
    elif isinstance(update.get("callback_query"), dict):
        parsed = parse_callback_query(update)
    else:
        parsed = None  # edited_message, my_chat_member, channel_post, ...: not for the inbox
    return [parsed] if parsed is not None else []


# ---------------------------------------------------------------------------------------------- sending


def _chat_id(recipient: str) -> int | str:
    try:
        return int(recipient)
    except ValueError:
        return recipient  # "@channelusername"


def inline_keyboard(buttons: Sequence[Button]) -> dict[str, Any]:
    """One button per row: a URL button, or a callback button carrying its payload (title if none)."""
    rows = []
    for index, button in enumerate(buttons):
        if button.url:
            rows.append([{"text": button.title, "url": button.url}])
            continue
        data = button.payload if button.payload is not None else button.title
        if not data or len(data.encode()) > MAX_CALLBACK_DATA:
            raise ProviderError(
                INVALID_MESSAGE,
                f"buttons.{index}: Telegram callback data must be 1-{MAX_CALLBACK_DATA} bytes",
            )
        rows.append([{"text": button.title, "callback_data": data}])
    return {"inline_keyboard": rows}


def reply_keyboard(quick_replies: Sequence[Button]) -> dict[str, Any]:
    """A one-time reply keyboard; a tap sends the title back as an ordinary text message."""
    titles = [{"text": q.title} for q in quick_replies]
    rows = [titles[i : i + QUICK_REPLIES_PER_ROW] for i in range(0, len(titles), QUICK_REPLIES_PER_ROW)]
    return {"keyboard": rows, "one_time_keyboard": True, "resize_keyboard": True}


def reply_markup(message: OutboundMessage) -> dict[str, Any] | None:
    # A message has one reply_markup: inline buttons win over quick replies.
    if message.buttons:
        return inline_keyboard(message.buttons)
    if message.quick_replies:
        return reply_keyboard(message.quick_replies)
    return None


def _local_path(url: str) -> Path | None:
    parts = urlsplit(url)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


def plan_calls(message: OutboundMessage) -> list[tuple[str, dict[str, Any]]]:
    """The Bot API calls that deliver `message`, in order: attachments first (the text as the caption of a
    single one when it fits), then the text. The reply markup rides on the last call."""
    if message.template is not None:
        raise ProviderError(INVALID_MESSAGE, "Telegram has no message templates; send text instead")
    text = message.text or None
    if text is not None and len(text) > MAX_TEXT:
        raise ProviderError(INVALID_MESSAGE, f"Telegram text is at most {MAX_TEXT} characters")
    chat_id = _chat_id(message.recipient)
    calls: list[tuple[str, dict[str, Any]]] = []
    text_as_caption = (
        text is not None
        and len(message.attachments) == 1
        and message.attachments[0].kind != "sticker"
        and len(text) <= MAX_CAPTION
    )
    for index, attachment in enumerate(message.attachments):
        method, field = SEND_METHODS[attachment.kind]
        source = attachment.provider_file_id or attachment.url
        if not source:
            raise ProviderError(INVALID_MESSAGE, f"attachments.{index}: needs a URL or a Telegram file id")
        params: dict[str, Any] = {"chat_id": chat_id, field: source}
        caption = text if text_as_caption else attachment.caption
        if caption and attachment.kind != "sticker":
            if len(caption) > MAX_CAPTION:
                raise ProviderError(
                    INVALID_MESSAGE, f"Telegram captions are at most {MAX_CAPTION} characters"
                )
            params["caption"] = caption
        calls.append((method, params))
    if text is not None and not text_as_caption:
        calls.append(("sendMessage", {"chat_id": chat_id, "text": text}))
    if not calls:
        raise ProviderError(INVALID_MESSAGE, "Nothing to send: no text and no attachments")
    markup = reply_markup(message)
    if markup is not None:
        calls[-1][1]["reply_markup"] = markup
    return calls


# ---------------------------------------------------------------------------------------------- adapter


def api_base() -> str:
    return get_settings().telegram_api_base.rstrip("/")


def bot_token(ctx: ChannelContext) -> str:
    token = ctx.credentials.get("botToken")
    if not isinstance(token, str) or not token:
        raise ProviderError(TOKEN_INVALID, "The Telegram channel has no botToken in its config")
    return token


def webhook_secret(ctx: ChannelContext) -> str | None:
    """The secret Telegram echoes in every webhook; stored encrypted (credentials), config as a fallback."""
    value = ctx.credentials.get("webhookSecret") or ctx.config.get("webhookSecret")
    return value if isinstance(value, str) and value else None


class TelegramAdapter:
    channel: ClassVar[str] = "telegram"
    window: ClassVar[dt.timedelta | None] = None  # bots may write to anyone who started them, any time

    def rate_plan(self, config: dict[str, Any]) -> RatePlan:
        per_second = DEFAULT_PER_SECOND
        configured = config.get("messagesPerSecond")
        if isinstance(configured, int | float) and not isinstance(configured, bool) and configured > 0:
            per_second = min(float(configured), MAX_PER_SECOND)
        return RatePlan(
            per_second=per_second, per_recipient_per_second=PER_CHAT_PER_SECOND, burst=PER_CHAT_BURST
        )

    async def call(
        self,
        ctx: ChannelContext,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        """One Bot API call; its `result`, or a ProviderError mapped to our codes."""
        url = f"{api_base()}/bot{bot_token(ctx)}/{method}"
        try:
            if files:
                form = {
                    k: orjson.dumps(v).decode() if isinstance(v, dict | list) else str(v)
                    for k, v in (params or {}).items()
                }
                response = await ctx.http.post(url, data=form, files=files)
            else:
                response = await ctx.http.post(url, json=params or {})
        except httpx.TransportError as exc:
            raise ProviderError(
                PROVIDER_UNAVAILABLE, f"Telegram is unreachable: {exc!r}", retryable=True
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        raise error_from_response(response.status_code, body)

    async def connect(self, ctx: ChannelContext) -> dict[str, Any]:
        """getMe (checks the token) then setWebhook with our URL, a secret token and the updates we parse."""
        try:
            me = await self.call(ctx, "getMe")
        except ProviderError as exc:
            if exc.code == TOKEN_INVALID:
                raise ProviderError(
                    TOKEN_INVALID,
                    f"Telegram refused the bot token ({exc.message}); copy it again from @BotFather",
                    provider_code=exc.provider_code,
                ) from exc
            raise
        existing = webhook_secret(ctx)
        secret = existing if existing and _SECRET_RE.match(existing) else secrets.token_urlsafe(32)
        await self.call(
            ctx,
            "setWebhook",
            {
                "url": f"{ctx.public_url.rstrip('/')}/webhooks/telegram/{ctx.inbox_id}",
                "secret_token": secret,
                "allowed_updates": list(ALLOWED_UPDATES),
            },
        )
        return {
            "botId": str(me.get("id")),
            "botUsername": me.get("username"),
            "botName": me.get("first_name"),
            "webhookSecret": secret,  # a secret by its name: sealed with the credentials
        }

    async def disconnect(self, ctx: ChannelContext) -> None:
        """Remove the webhook (when the channel is deleted)."""
        await self.call(ctx, "deleteWebhook", {"drop_pending_updates": False})

    async def handshake(self, ctx: ChannelContext, request: WebhookRequest) -> tuple[int, bytes] | None:
        return None  # Telegram has no GET verification

    def verify(self, ctx: ChannelContext, request: WebhookRequest) -> bool:
        expected = webhook_secret(ctx)
        given = request.headers.get(SECRET_HEADER)
        if not expected or given is None:
            return False
        return hmac.compare_digest(given.encode(), expected.encode())

    def parse(self, ctx: ChannelContext, request: WebhookRequest) -> list[InboundEvent]:
        try:
            update = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return []
        return parse_update(update)

    async def acknowledge(self, ctx: ChannelContext, event: InboundEvent) -> None:
        """Answer a callback query (stops the spinner on the user's button). Never raises: it is cosmetic,
        and Telegram refuses answers to queries older than about 15 seconds."""
        if not isinstance(event, InboundMessage) or event.content_type != "button":
            return
        query_id = event.attributes.get("callbackQueryId")
        if not query_id:
            return
        try:
            await self.call(ctx, "answerCallbackQuery", {"callback_query_id": query_id})
        except ProviderError as exc:
            log.info("telegram: answerCallbackQuery %s failed: %s", query_id, exc.message)

    async def download(self, ctx: ChannelContext, attachment: Attachment) -> tuple[bytes, str | None]:
        """getFile -> file_path -> GET {base}/file/bot<token>/<file_path> (bots may download up to 20 MB)."""
        if not attachment.provider_file_id:
            raise ProviderError(INVALID_MESSAGE, "The attachment has no Telegram file id")
        info = await self.call(ctx, "getFile", {"file_id": attachment.provider_file_id})
        file_path = info.get("file_path") if isinstance(info, dict) else None
        if not file_path:
            raise ProviderError(PROVIDER_ERROR, "Telegram gave no file_path for the file")
        try:
            response = await ctx.http.get(f"{api_base()}/file/bot{bot_token(ctx)}/{file_path}")
        except httpx.TransportError as exc:
            raise ProviderError(
                PROVIDER_UNAVAILABLE, f"Telegram is unreachable: {exc!r}", retryable=True
            ) from exc
        if not response.is_success:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise error_from_response(response.status_code, body)
        mime = attachment.mime_type
        if not mime:
            header = response.headers.get("content-type", "").split(";")[0].strip()
            mime = header if header and header != "application/octet-stream" else None
        if not mime:
            mime = mimetypes.guess_type(file_path)[0]
        return response.content, mime

    async def send(self, ctx: ChannelContext, message: OutboundMessage) -> SendResult:
        """Attachments by URL or Telegram file id (a file:// URL is uploaded), then the text; the id of the
        first message sent is the result."""
        first: str | None = None
        for method, params in plan_calls(message):
            files = None
            field = next((f for m, f in SEND_METHODS.values() if m == method), None)
            path = _local_path(params[field]) if field and isinstance(params[field], str) else None
            if field and path is not None:
                content = await _read_file(path)
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                files = {field: (path.name, content, mime)}
                params = {k: v for k, v in params.items() if k != field}
            result = await self.call(ctx, method, params, files=files)
            if first is None and isinstance(result, dict):
                chat = result.get("chat") or {}
                first = f"{chat.get('id', message.recipient)}:{result.get('message_id')}"
        return SendResult(provider_message_id=first or "")

    async def sender_action(self, ctx: ChannelContext, recipient: str, action: str) -> None:
        """typing_on shows "typing..." (Telegram clears it after 5 s or with the next message); Telegram has
        no typing_off or mark_seen, so those do nothing."""
        if action == "typing_on":
            await self.call(ctx, "sendChatAction", {"chat_id": recipient, "action": "typing"})


async def _read_file(path: Path) -> bytes:
    try:
        return await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise ProviderError(INVALID_MESSAGE, f"Cannot read the attachment file: {exc}") from exc


register(TelegramAdapter())
