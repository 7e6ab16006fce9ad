"""Realtime events: GET /api/v1/events (Server-Sent Events)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse

from chatbotx.events import service
from chatbotx.kit.errors import ERROR_RESPONSES, invalid_field
from chatbotx.kit.ids import parse_id
from chatbotx.kit.routing import op
from chatbotx.kit.security import Principal, require

router = APIRouter(prefix="/api/v1/events", tags=["Events"])
Reader = Annotated[Principal, Depends(require("conversations.list"))]

STREAM_RESPONSES = {
    **ERROR_RESPONSES,
    200: {
        "description": "A text/event-stream: `id: <event id>`, `event: <type>`, `data: <JSON payload>` "
        "per event, and `: heartbeat` comments every 15 seconds",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
}
DESCRIPTION = (
    "A Server-Sent Events stream of the workspace's events: message.created, message.updated, "
    "conversation.created, conversation.updated, conversation.status_changed, conversation.assigned, "
    "conversation.typing_on, conversation.typing_off, "
    "contact.created, contact.updated. Each event's `data` is the JSON object it concerns. To resume after a "
    "disconnect, send the last `id` received as the `Last-Event-ID` header (browsers' EventSource does it) "
    "or as `?lastEventId=`: stored events after it are replayed first, then live ones follow. Without it the "
    "stream starts with live events. Needs the conversations.list scope."
)


def _last_event_id(header: str | None, query: str | None) -> int | None:
    raw = query if query is not None else header
    if raw is None or raw.strip() == "":
        return None
    if raw.strip() == "0":
        return 0
    parsed = parse_id(raw)
    if parsed is None:
        field = "lastEventId" if query is not None else "Last-Event-ID"
        raise invalid_field(field, "must be an event id")
    return parsed


@router.get(
    "",
    response_class=StreamingResponse,
    **op(
        "streamEvents",
        "Stream workspace events",
        "events stream",
        description=DESCRIPTION,
        responses=STREAM_RESPONSES,
    ),
)
async def stream_events(
    who: Reader,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", description="Resume after this event id", max_length=40)
    ] = None,
    last_event_id_query: Annotated[
        str | None,
        Query(
            alias="lastEventId",
            description="Resume after this event id (for clients without headers)",
            max_length=40,
        ),
    ] = None,
) -> StreamingResponse:
    after = _last_event_id(last_event_id, last_event_id_query)
    return StreamingResponse(
        service.stream(who.workspace_id, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
