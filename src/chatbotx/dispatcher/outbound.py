"""An OutboundMessage (the adapters' normalized form) from a queued Message row.

`content` -> text; `attachments` -> Attachment with a URL the provider can fetch (stored files get a signed
/media URL); `content_attributes` -> buttons, quickReplies, template and tag:

    {"buttons": [{"title": "Yes", "payload": "YES"}, {"title": "Site", "url": "https://..."}],
     "quickReplies": [{"title": "Red", "payload": "RED"}, "Green"],
     "template": {"name": "order_update", "language": "en_US", "components": [...]},
     "tag": "HUMAN_AGENT"}
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from chatbotx.channels.base import Attachment, AttachmentKind, Button, OutboundMessage, Template
from chatbotx.dispatcher.media import media_url
from chatbotx.kit.ids import parse_id
from chatbotx.models import Message


def attachment_kind(content_type: str | None) -> AttachmentKind:
    major = (content_type or "").split("/", 1)[0]
    if major in ("image", "video", "audio"):
        return cast(AttachmentKind, major)
    return "file"


def to_attachment(raw: Mapping[str, Any]) -> Attachment:
    file_id = parse_id(str(raw.get("fileId", ""))) if raw.get("fileId") is not None else None
    url = raw.get("url")
    name = raw.get("name") or raw.get("filename")
    content_type = raw.get("contentType")
    if file_id is not None:
        url = media_url(file_id)
    elif url and not content_type:
        content_type = mimetypes.guess_type(urlsplit(str(url)).path)[0]
        name = name or urlsplit(str(url)).path.rsplit("/", 1)[-1] or None
    kind = raw.get("kind") if raw.get("kind") in ("image", "video", "audio", "file", "sticker") else None
    return Attachment(
        kind=cast(AttachmentKind, kind) if kind else attachment_kind(content_type),
        url=str(url) if url else None,
        mime_type=content_type,
        filename=name,
        size=raw.get("size") if isinstance(raw.get("size"), int) else None,
        caption=raw.get("caption"),
    )


def to_button(raw: Any) -> Button | None:
    if isinstance(raw, str):
        return Button(title=raw, payload=raw)
    if not isinstance(raw, Mapping) or not raw.get("title"):
        return None
    payload = raw.get("payload", raw.get("value"))
    url = raw.get("url")
    return Button(
        title=str(raw["title"]),
        payload=str(payload) if payload is not None else (None if url else str(raw["title"])),
        url=str(url) if url else None,
    )


def to_template(raw: Any) -> Template | None:
    if not isinstance(raw, Mapping) or not raw.get("name"):
        return None
    language = raw.get("language")
    if isinstance(language, Mapping):  # WhatsApp's own {"code": "en_US"} form
        language = language.get("code")
    components = raw.get("components")
    return Template(
        name=str(raw["name"]),
        language=str(language or "en_US"),
        components=[dict(c) for c in components if isinstance(c, Mapping)]
        if isinstance(components, list)
        else [],
    )


def _buttons(raw: Any) -> list[Button]:
    if not isinstance(raw, list):
        return []
    return [b for b in (to_button(item) for item in raw) if b is not None]


def build(message: Message, recipient: str) -> OutboundMessage:
    attributes = message.content_attributes or {}
    tag = attributes.get("tag")
    return OutboundMessage(
        message_id=message.id,
        recipient=recipient,
        text=message.content,
        attachments=[to_attachment(a) for a in message.attachments or [] if isinstance(a, Mapping)],
        buttons=_buttons(attributes.get("buttons")),
        quick_replies=_buttons(attributes.get("quickReplies", attributes.get("quick_replies"))),
        template=to_template(attributes.get("template")),
        tag=str(tag) if tag else None,
    )
