"""WhatsApp Cloud API adapter: hub.challenge handshake, X-Hub-Signature-256 webhooks, Graph API sends.

Wire formats: reference/channels.md section 2. User documentation: docs/channels/whatsapp.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from typing import Any, ClassVar

import httpx
import orjson

from chatbotx.channels import meta
from chatbotx.channels.base import (
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
    ContactProfile,
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
from chatbotx.channels.meta import answer_handshake, signed_by
from chatbotx.channels.meta import signature_of as signature_of  # the Graph webhook signature, re-exported
from chatbotx.channels.registry import register
from chatbotx.kit.errors import invalid_field
from chatbotx.settings import get_settings

DEFAULT_API_VERSION = "v21.0"
DEFAULT_MESSAGES_PER_SECOND = 80
# Meta's pair rate limit: about one message every 6 s to the same user, bursts of up to 45 (error 131056).
PER_RECIPIENT_PER_SECOND = 1 / 6
PER_RECIPIENT_BURST = 45

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_INTERACTIVE_BODY = 1024
MAX_REPLY_BUTTONS = 3
MAX_REPLY_BUTTON_TITLE = 20
MAX_LIST_ROWS = 10
MAX_LIST_ROW_TITLE = 24
MAX_BUTTON_ID = 256
LIST_BUTTON_LABEL = "Options"


# Our attachment kinds -> WhatsApp message types, and back for inbound media.
_OUT_MEDIA: dict[str, str] = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "file": "document",
    "sticker": "sticker",
}
_IN_MEDIA: dict[str, AttachmentKind] = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "document": "file",
    "sticker": "sticker",
}
_CAPTIONED = {"image", "video", "document"}
_STATUSES: dict[str, DeliveryStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",  # a voice message listened to: it has been read
    "failed": "failed",
}

# Graph error codes -> (our code, retryable, default retry_after seconds). Keyed on error.code, never on the
# HTTP status: Meta answers the same code with different statuses (courier's recorded fixtures).
_THROTTLED: dict[int, float] = {
    4: 60.0,  # app call-rate limit
    613: 60.0,  # call rate limit
    80007: 60.0,  # WABA rate limit
    130429: 1.0,  # phone number throughput (80/s by default)
    131048: 60.0,  # spam rate limit
    131056: 6.0,  # pair rate limit: one message every 6 s to the same user
    133016: 60.0,  # registration/deregistration rate limit
}
_UNAVAILABLE = {1, 2, 131000, 131016, 131057}
_AUTH = {0, 10, 190, *range(200, 300)}
_BAD_RECIPIENT = {131026, 131030}
_BAD_MESSAGE = {100, 131008, 131051, 131052, 132000, 132001, 132005, 132007, 132012, 132015, 132016}
_RETRYABLE_OTHER = {131053}  # media upload error: Meta suggests trying again
_RECIPIENT_WORDS = re.compile(r"phone|recipient|\bto\b|wa_id", re.IGNORECASE)


# --- configuration ------------------------------------------------------------------------------------------


def api_version(config: dict[str, Any]) -> str:
    return meta.api_version(config, DEFAULT_API_VERSION)


def messages_per_second(config: dict[str, Any]) -> int:
    return meta.messages_per_second(config, DEFAULT_MESSAGES_PER_SECOND)


def _validate_config(ctx: ChannelContext) -> None:
    """Refuse at connect time what would make every later call fail (a 422 on the channel API)."""
    for key in ("phoneNumberId", "accessToken", "appSecret"):
        if not meta.value(ctx, key):
            raise invalid_field(f"config.{key}", "is required for a WhatsApp channel")
    if not re.fullmatch(r"\d{1,32}", str(meta.value(ctx, "phoneNumberId"))):
        raise invalid_field(
            "config.phoneNumberId", "must be the numeric phone number id from WhatsApp Manager"
        )
    meta.check_common_config(ctx)


def _graph_url(ctx: ChannelContext, path: str) -> str:
    base = get_settings().meta_graph_api_base.rstrip("/")
    return f"{base}/{api_version(ctx.config)}/{path}"


def _auth(ctx: ChannelContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {meta.value(ctx, 'accessToken') or ''}"}


# --- errors -------------------------------------------------------------------------------------------------


def _error_fields(body: Any) -> tuple[int | None, str, str]:
    """(code, message, details) of a Graph error body or of a webhook `errors[]` item."""
    error = body.get("error", body) if isinstance(body, dict) else {}
    if not isinstance(error, dict):
        return None, "", ""
    code = error.get("code")
    code = int(code) if isinstance(code, int | str) and str(code).lstrip("-").isdigit() else None
    message = str(error.get("message") or error.get("title") or "")
    data = error.get("error_data")
    details = str(data.get("details") or "") if isinstance(data, dict) else ""
    return code, message, details


def error_code_for(code: int | None, details: str = "", http_status: int | None = None) -> tuple[str, bool]:
    """Our stable code for a Graph error code, and whether the send may be retried."""
    if code == 131047:
        return OUTSIDE_WINDOW, False
    if code in _THROTTLED:
        return RATE_LIMITED, True
    if code in _AUTH or http_status == 401:
        return TOKEN_INVALID, False
    if code in _BAD_RECIPIENT:
        return INVALID_RECIPIENT, False
    if code == 131009:  # "Parameter value is not valid": the number, or any other parameter
        return (INVALID_RECIPIENT if _RECIPIENT_WORDS.search(details) else INVALID_MESSAGE), False
    if code in _BAD_MESSAGE:
        return INVALID_MESSAGE, False
    if http_status == 429:
        return RATE_LIMITED, True
    if code in _UNAVAILABLE or (http_status is not None and http_status >= 500):
        return PROVIDER_UNAVAILABLE, True
    return PROVIDER_ERROR, code in _RETRYABLE_OTHER


def provider_error(response: httpx.Response) -> ProviderError:
    """The ProviderError for a failed Graph API response."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    code, message, details = _error_fields(body)
    ours, retryable = error_code_for(code, details, response.status_code)
    text = message or f"WhatsApp Cloud API answered HTTP {response.status_code}"
    if details and details not in text:
        text = f"{text}: {details}"
    retry_after: float | None = None
    header = response.headers.get("retry-after", "")
    if header.replace(".", "", 1).isdigit():
        retry_after = float(header)
    elif ours == RATE_LIMITED:
        retry_after = _THROTTLED.get(code or 0, 1.0)
    return ProviderError(ours, text, provider_code=code, retry_after=retry_after, retryable=retryable)


@functools.lru_cache(maxsize=256)
def _parsed(url: str) -> httpx.URL:
    """The URL parsed once (httpx parses a string URL on every request: a tenth of a send's CPU)."""
    return httpx.URL(url)


async def _call(
    ctx: ChannelContext, method: str, url: str, *, json: Any = None, **kwargs: Any
) -> httpx.Response:
    """One Graph API call; network failures and error answers become ProviderErrors."""
    headers = _auth(ctx)
    if json is not None:
        kwargs["content"], content_type = meta.json_content(json)
        headers.update(content_type)
    try:
        response = await ctx.http.request(method, _parsed(url), headers=headers, **kwargs)
    except httpx.TransportError as exc:
        raise ProviderError(
            PROVIDER_UNAVAILABLE, f"WhatsApp Cloud API unreachable: {exc!r}", retryable=True
        ) from exc
    if response.status_code >= 400:
        raise provider_error(response)
    return response


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except ValueError as exc:
        raise ProviderError(
            PROVIDER_ERROR, "WhatsApp Cloud API answered with a body that is not JSON"
        ) from exc
    if not isinstance(body, dict):
        raise ProviderError(PROVIDER_ERROR, "WhatsApp Cloud API answered with an unexpected body")
    if "error" in body:  # a 2xx carrying an error is still an error
        raise provider_error(response)
    return body


# --- inbound ------------------------------------------------------------------------------------------------


def _obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (webhook payloads are read defensively)."""
    return value if isinstance(value, dict) else {}


def _timestamp(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """WhatsApp gives one profile name: the first word is the first name, the rest the last name."""
    parts = (name or "").split(None, 1)
    if not parts:
        return None, None
    return parts[0], (parts[1] if len(parts) > 1 else None)


def e164(wa_id: str | None) -> str | None:
    """A wa_id is the number in international form without "+"; business-scoped ids are not numbers."""
    if wa_id and wa_id.isdigit() and 7 <= len(wa_id) <= 15:
        return "+" + wa_id
    return None


def _profiles(value: dict[str, Any]) -> dict[str, ContactProfile]:
    profiles: dict[str, ContactProfile] = {}
    for contact in value.get("contacts") or []:
        if not isinstance(contact, dict):
            continue
        wa_id = str(contact.get("wa_id") or contact.get("user_id") or "")
        profile = _obj(contact.get("profile"))
        first, last = split_name(str(profile.get("name") or "") or None)
        username = profile.get("username")
        profiles[wa_id] = ContactProfile(
            first_name=first,
            last_name=last,
            username=str(username) if username else None,
            phone_number=e164(str(contact.get("wa_id") or "")),
        )
    return profiles


def _shared_contacts(items: Any) -> list[dict[str, Any]]:
    shared = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        name = _obj(item.get("name"))
        phones = [p for p in item.get("phones") or [] if isinstance(p, dict)]
        emails = [e.get("email") for e in item.get("emails") or [] if isinstance(e, dict) and e.get("email")]
        shared.append(
            {
                "name": name.get("formatted_name"),
                "firstName": name.get("first_name"),
                "lastName": name.get("last_name"),
                "phoneNumber": phones[0].get("phone") if phones else None,
                "phones": [
                    {"phone": p.get("phone"), "waId": p.get("wa_id"), "type": p.get("type")} for p in phones
                ],
                "emails": emails,
            }
        )
    return shared


def _content(
    message: dict[str, Any],
) -> tuple[ContentType, str | None, list[Attachment], dict[str, Any]] | None:
    """(content type, text, attachments, attributes) of one inbound message; None to skip it."""
    kind = str(message.get("type") or "")
    body = _obj(message.get(kind))
    if kind == "text":
        return "text", str(body.get("body") or ""), [], {}
    if kind in _IN_MEDIA and body.get("id"):
        ours = _IN_MEDIA[kind]
        caption = body.get("caption")
        attachment = Attachment(
            kind=ours,
            provider_file_id=str(body["id"]),
            mime_type=body.get("mime_type"),
            filename=body.get("filename"),
            caption=caption,
        )
        attributes: dict[str, Any] = {}
        if kind == "audio" and body.get("voice"):
            attributes["voice"] = True
        if kind == "sticker" and body.get("animated"):
            attributes["animated"] = True
        return ours, caption, [attachment], attributes
    if kind == "interactive":
        reply_kind = str(body.get("type") or "")
        reply = body.get(reply_kind) if isinstance(body.get(reply_kind), dict) else None
        if reply_kind in ("button_reply", "list_reply") and reply:
            attributes = {"payload": reply.get("id"), "interactiveType": reply_kind}
            if reply.get("description"):
                attributes["description"] = reply["description"]
            return "button", reply.get("title"), [], attributes
    if kind == "button":  # a quick-reply button of a template
        return "button", body.get("text"), [], {"payload": body.get("payload")}
    if kind == "location":
        keys = ("latitude", "longitude", "name", "address", "url")
        return "location", None, [], {"location": {k: body[k] for k in keys if body.get(k) is not None}}
    if kind == "contacts":
        shared = _shared_contacts(message.get("contacts"))
        return "contact", None, [], {"contacts": shared}
    if kind == "reaction":
        return None  # an emoji on one of our messages is not a message; it is not stored
    return "unsupported", None, [], {"type": kind, "raw": message}


def _inbound_message(message: dict[str, Any], profiles: dict[str, ContactProfile]) -> InboundMessage | None:
    sender = str(message.get("from") or message.get("from_user_id") or "")
    provider_id = str(message.get("id") or "")
    if not sender or not provider_id:
        return None
    content = _content(message)
    if content is None:
        return None
    content_type, text, attachments, attributes = content
    context = _obj(message.get("context"))
    if context.get("id"):
        attributes["replyTo"] = context["id"]
    if context.get("forwarded") or context.get("frequently_forwarded"):
        attributes["forwarded"] = True
    if isinstance(message.get("referral"), dict):
        attributes["referral"] = message["referral"]
    profile = dataclasses.replace(profiles.get(sender) or ContactProfile())
    profile.phone_number = profile.phone_number or e164(sender)
    return InboundMessage(
        source_id=sender,
        provider_message_id=provider_id,
        content_type=content_type,
        text=text,
        attachments=attachments,
        attributes=attributes,
        profile=profile,
        sent_at=_timestamp(message.get("timestamp")),
    )


def _inbound_status(status: dict[str, Any]) -> InboundStatus | None:
    ours = _STATUSES.get(str(status.get("status") or ""))
    provider_id = status.get("id")
    if ours is None or not provider_id:
        return None
    error_code = error_message = None
    errors = [e for e in status.get("errors") or [] if isinstance(e, dict)]
    if ours == "failed":
        code, message, details = _error_fields(errors[0] if errors else {})
        error_code = error_code_for(code, details)[0]
        error_message = (
            ": ".join(p for p in (message, details) if p) or "WhatsApp could not deliver the message"
        )
        if code is not None and not error_message.startswith("(#"):
            error_message = f"(#{code}) {error_message}"
    return InboundStatus(
        provider_message_id=str(provider_id),
        status=ours,
        recipient_source_id=str(status["recipient_id"]) if status.get("recipient_id") else None,
        error_code=error_code,
        error_message=error_message,
        at=_timestamp(status.get("timestamp")),
    )


def parse_payload(payload: Any, phone_number_id: str | None = None) -> list[InboundEvent]:
    """Every message and status of a webhook payload, in order (another phone number's are skipped)."""
    events: list[InboundEvent] = []
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return events
    for entry in payload.get("entry") or []:
        for change in (entry.get("changes") or []) if isinstance(entry, dict) else []:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = _obj(change.get("value"))
            metadata = _obj(value.get("metadata"))
            # One app may serve several numbers; only this inbox's number belongs here.
            if phone_number_id and metadata.get("phone_number_id") not in (None, phone_number_id):
                continue
            profiles = _profiles(value)
            for message in value.get("messages") or []:
                if isinstance(message, dict) and (parsed := _inbound_message(message, profiles)):
                    events.append(parsed)
            for status in value.get("statuses") or []:
                if isinstance(status, dict) and (parsed_status := _inbound_status(status)):
                    events.append(parsed_status)
    return events


# --- outbound -----------------------------------------------------------------------------------------------


def _refuse(message: str) -> ProviderError:
    return ProviderError(INVALID_MESSAGE, message)


def _media_object(attachment: Attachment, caption: str | None) -> tuple[str, dict[str, Any]]:
    kind = _OUT_MEDIA.get(attachment.kind)
    if kind is None:
        raise _refuse(f"WhatsApp cannot send a {attachment.kind} attachment")
    if attachment.url:
        media: dict[str, Any] = {"link": attachment.url}
    elif attachment.provider_file_id:
        media = {"id": attachment.provider_file_id}
    else:
        raise _refuse("an attachment needs a URL or a WhatsApp media id")
    if caption and kind in _CAPTIONED:
        media["caption"] = caption
    if kind == "document" and attachment.filename:
        media["filename"] = attachment.filename
    return kind, media


def _reply_id(button: Button) -> str:
    reply_id = button.payload or button.title
    if len(reply_id) > MAX_BUTTON_ID:
        raise _refuse(f"a button payload may have at most {MAX_BUTTON_ID} characters")
    return reply_id


def _interactive(
    text: str | None, buttons: list[Button], header: Attachment | None
) -> tuple[dict[str, Any] | None, bool, str]:
    """(interactive object or None for plain text, whether `header` became its media header, body text).

    1-3 reply buttons with titles of at most 20 characters -> reply buttons (a media header allowed);
    4-10 buttons, or titles of 21-24 characters -> a list; more or longer -> refused (INVALID_MESSAGE).
    One lone link button -> a call-to-action URL button; other link buttons -> their links are appended to
    the text (WhatsApp cannot mix link and reply buttons).
    """
    replies = [b for b in buttons if not b.url]
    links = [b for b in buttons if b.url]
    cta = (
        links[0]
        if not replies and len(links) == 1 and len(links[0].title) <= MAX_REPLY_BUTTON_TITLE
        else None
    )
    body = "\n".join([text or "", *(f"{b.title}: {b.url}" for b in links if b is not cta)]).strip()
    if not body:
        raise _refuse("WhatsApp buttons need a text to go with them")
    if not replies and cta is None:
        return None, False, body
    if len(body) > MAX_INTERACTIVE_BODY:
        raise _refuse(f"a WhatsApp message with buttons may have at most {MAX_INTERACTIVE_BODY} characters")
    if cta is not None:
        action = {"name": "cta_url", "parameters": {"display_text": cta.title, "url": cta.url}}
        return {"type": "cta_url", "body": {"text": body}, "action": action}, False, body
    if len(replies) <= MAX_REPLY_BUTTONS and all(len(b.title) <= MAX_REPLY_BUTTON_TITLE for b in replies):
        reply_buttons = [{"type": "reply", "reply": {"id": _reply_id(b), "title": b.title}} for b in replies]
        interactive: dict[str, Any] = {
            "type": "button",
            "body": {"text": body},
            "action": {"buttons": reply_buttons},
        }
        if header is not None and _OUT_MEDIA.get(header.kind) in _CAPTIONED:
            kind, media = _media_object(header, None)
            interactive["header"] = {"type": kind, kind: media}
            return interactive, True, body
        return interactive, False, body
    if len(replies) > MAX_LIST_ROWS:
        raise _refuse(f"WhatsApp allows at most {MAX_LIST_ROWS} buttons (as a list)")
    if any(len(b.title) > MAX_LIST_ROW_TITLE for b in replies):
        raise _refuse(f"WhatsApp list options may have at most {MAX_LIST_ROW_TITLE} characters")
    rows = [{"id": _reply_id(b), "title": b.title} for b in replies]
    list_action = {"button": LIST_BUTTON_LABEL, "sections": [{"rows": rows}]}
    return {"type": "list", "body": {"text": body}, "action": list_action}, False, body


def build_requests(message: OutboundMessage) -> list[dict[str, Any]]:
    """The Graph API bodies of one outbound message, in order (WhatsApp sends one thing per request)."""
    envelope = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.recipient}
    if message.template is not None:
        template: dict[str, Any] = {
            "name": message.template.name,
            "language": {"code": message.template.language},
        }
        if message.template.components:
            template["components"] = message.template.components
        return [{**envelope, "type": "template", "template": template}]
    text = message.text or None
    attachments = list(message.attachments)
    buttons = [*message.buttons, *message.quick_replies]
    if buttons:
        interactive, used_header, body = _interactive(text, buttons, attachments[0] if attachments else None)
        bodies = [_media_body(envelope, a, None) for a in (attachments[1:] if used_header else attachments)]
        if interactive is None:
            return [*bodies, _text_body(envelope, body)]
        return [*bodies, {**envelope, "type": "interactive", "interactive": interactive}]
    caption = None
    # The text rides as the caption of the last attachment when it can (image, video, document; <= 1024).
    if (
        text
        and attachments
        and _OUT_MEDIA.get(attachments[-1].kind) in _CAPTIONED
        and len(text) <= MAX_CAPTION
    ):
        caption, text = text, None
    bodies = [
        _media_body(envelope, a, caption if i == len(attachments) - 1 else None)
        for i, a in enumerate(attachments)
    ]
    if text:
        bodies.append(_text_body(envelope, text))
    if not bodies:
        raise _refuse("nothing to send: no text, attachment, buttons or template")
    return bodies


def _text_body(envelope: dict[str, Any], text: str) -> dict[str, Any]:
    if len(text) > MAX_TEXT:
        raise _refuse(f"a WhatsApp text may have at most {MAX_TEXT} characters")
    return {**envelope, "type": "text", "text": {"preview_url": False, "body": text}}


def _media_body(envelope: dict[str, Any], attachment: Attachment, caption: str | None) -> dict[str, Any]:
    kind, media = _media_object(attachment, caption or attachment.caption)
    return {**envelope, "type": kind, kind: media}


# --- the adapter --------------------------------------------------------------------------------------------


class WhatsAppAdapter:
    channel: ClassVar[str] = "whatsapp"
    window: ClassVar[dt.timedelta | None] = dt.timedelta(hours=24)

    def rate_plan(self, config: dict[str, Any]) -> RatePlan:
        return RatePlan(
            per_second=messages_per_second(config),
            per_recipient_per_second=PER_RECIPIENT_PER_SECOND,
            burst=PER_RECIPIENT_BURST,
        )

    async def connect(self, ctx: ChannelContext) -> dict[str, Any]:
        _validate_config(ctx)
        url = _graph_url(ctx, str(meta.value(ctx, "phoneNumberId")))
        try:
            response = await _call(ctx, "GET", url, params={"fields": "display_phone_number,verified_name"})
        except ProviderError as exc:
            if exc.provider_code == 100:  # "Unsupported get request. Object with ID ... does not exist"
                raise invalid_field(
                    "config.phoneNumberId", f"WhatsApp does not know this phone number id: {exc.message}"
                ) from exc
            if exc.code == TOKEN_INVALID:
                raise ProviderError(
                    TOKEN_INVALID,
                    f"WhatsApp refused the access token ({exc.message}); create a permanent system-user "
                    "token in Meta Business Settings",
                    provider_code=exc.provider_code,
                ) from exc
            raise
        body = _json(response)
        display = str(body.get("display_phone_number") or "")
        digits = re.sub(r"\D", "", display)
        return {
            "displayPhoneNumber": display,  # as Meta shows it: "+1 555-078-3881"
            "phoneNumber": f"+{digits}" if digits else None,  # the channel's own number in E.164
            "verifiedName": body.get("verified_name"),
        }

    async def handshake(self, ctx: ChannelContext, request: WebhookRequest) -> tuple[int, bytes] | None:
        return answer_handshake(str(meta.value(ctx, "verifyToken") or ""), request)

    def verify(self, ctx: ChannelContext, request: WebhookRequest) -> bool:
        return signed_by(str(meta.value(ctx, "appSecret") or ""), request)

    def parse(self, ctx: ChannelContext, request: WebhookRequest) -> list[InboundEvent]:
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return []
        phone_number_id = meta.value(ctx, "phoneNumberId")
        return parse_payload(payload, str(phone_number_id) if phone_number_id else None)

    async def download(self, ctx: ChannelContext, attachment: Attachment) -> tuple[bytes, str | None]:
        url, mime_type = attachment.url, attachment.mime_type
        if attachment.provider_file_id:
            meta = _json(await _call(ctx, "GET", _graph_url(ctx, attachment.provider_file_id)))
            url = str(meta.get("url") or "")
            mime_type = meta.get("mime_type") or mime_type
        if not url:
            raise ProviderError(PROVIDER_ERROR, "WhatsApp gave no download URL for the media")
        # The media URL needs the same Bearer token as the API (and expires after a few minutes).
        response = await _call(ctx, "GET", url)
        content_type = response.headers.get("content-type", "").split(";")[0].strip() or None
        return response.content, mime_type or content_type

    async def send(self, ctx: ChannelContext, message: OutboundMessage) -> SendResult:
        bodies = build_requests(message)
        url = _graph_url(ctx, f"{meta.value(ctx, 'phoneNumberId')}/messages")
        provider_id = ""
        for body in bodies:
            answer = _json(await _call(ctx, "POST", url, json=body))
            messages = answer.get("messages")
            first = messages[0] if isinstance(messages, list) and messages else {}
            provider_id = str(first.get("id") or "") if isinstance(first, dict) else ""
            if not provider_id:
                raise ProviderError(
                    PROVIDER_ERROR, "WhatsApp accepted the message but returned no message id"
                )
        # Several requests (attachments + text) make one message of ours; the last one's status stands for it.
        return SendResult(provider_message_id=provider_id)


register(WhatsAppAdapter())
