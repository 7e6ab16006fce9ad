"""Normalized inbound events <-> the JSON stored on InboundEvent rows, and their dedupe keys."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Any

from chatbotx.channels.base import Attachment, ContactProfile, InboundEvent, InboundMessage, InboundStatus

MESSAGE = "message"
STATUS = "status"
KEY_MAX = 255


def kind_of(event: InboundEvent) -> str:
    return MESSAGE if isinstance(event, InboundMessage) else STATUS


def dedupe_key(event: InboundEvent) -> str:
    """One row per provider message, and per (message, status) for receipts: a repeat is a no-op."""
    if isinstance(event, InboundMessage):
        key = f"message:{event.provider_message_id}"
    else:
        key = f"status:{event.provider_message_id}:{event.status}"
    return key[:KEY_MAX]


def _jsonable(value: Any) -> Any:
    """Dataclasses as dicts of their fields, datetimes as ISO text, containers copied (= what
    `dataclasses.asdict` then a datetime pass gave, in one walk: this runs for every webhook event)."""
    if isinstance(value, str | int | float | bool | None):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _jsonable(getattr(value, name)) for name in _field_names(type(value))}
    return value


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def encode(event: InboundEvent) -> dict[str, Any]:
    result: dict[str, Any] = _jsonable(event)
    return result


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@functools.cache
def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def _fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = _names(cls)
    return {k: v for k, v in data.items() if k in names}


def decode(kind: str, payload: dict[str, Any]) -> InboundEvent:
    if kind == MESSAGE:
        data = _fields(InboundMessage, payload)
        data["attachments"] = [Attachment(**_fields(Attachment, a)) for a in data.get("attachments") or []]
        data["profile"] = ContactProfile(**_fields(ContactProfile, data.get("profile") or {}))
        data["sent_at"] = _when(data.get("sent_at"))
        return InboundMessage(**data)
    data = _fields(InboundStatus, payload)
    data["at"] = _when(data.get("at"))
    return InboundStatus(**data)
