"""Channel webhooks: /webhooks/{channel}/{inboxId} (no API token; the provider's signature or secret instead).

GET answers the provider's verification handshake. POST verifies, parses, stores each event once
(InboundEvent, dedupe key per inbox), commits, kicks the `inbound.process` job and answers 200 at once.
Not part of the API document: providers call these, not API clients (see docs/channel-webhooks.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from chatbotx.channels import registry
from chatbotx.channels.base import ChannelAdapter, WebhookRequest
from chatbotx.channels.context import channel_context
from chatbotx.inbound import store, tasks
from chatbotx.kit.db import SessionDep
from chatbotx.kit.errors import ApiError, BusinessError, Forbidden, NotFound
from chatbotx.kit.ids import parse_id
from chatbotx.models import Inbox

inbound_router = APIRouter(prefix="/webhooks", include_in_schema=False)


async def _inbox(session: SessionDep, channel: str, inbox_id: str) -> tuple[Inbox, ChannelAdapter]:
    """The inbox of the path with its adapter; an unknown id, another channel's inbox or a channel without
    an adapter is a 404 (the same answer, so the path reveals nothing)."""
    parsed = parse_id(inbox_id)
    inbox = None
    if parsed is not None:
        inbox = await session.scalar(select(Inbox).where(Inbox.id == parsed))
    adapter = registry.get(channel)
    if inbox is None or inbox.channel != channel or adapter is None:
        raise NotFound("No such channel webhook.", resource="channel")
    return inbox, adapter


async def _request(request: Request) -> WebhookRequest:
    return WebhookRequest(
        method=request.method,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=await request.body(),
    )


def _error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


@inbound_router.get("/{channel}/{inboxId}")
async def handshake(request: Request, session: SessionDep, channel: str, inboxId: str) -> Response:
    inbox, adapter = await _inbox(session, channel, inboxId)
    answer = await adapter.handshake(channel_context(inbox), await _request(request))
    if answer is None:
        raise NotFound("This channel has no webhook handshake.", resource="channel")
    status, body = answer
    return Response(body, status_code=status, media_type="text/plain")


@inbound_router.post("/{channel}/{inboxId}")
async def receive(request: Request, session: SessionDep, channel: str, inboxId: str) -> Response:
    inbox, adapter = await _inbox(session, channel, inboxId)
    ctx = channel_context(inbox)
    webhook = await _request(request)
    if not adapter.verify(ctx, webhook):
        # Nothing is stored; the same error whatever was wrong (missing or mismatched signature/secret).
        return _error(
            Forbidden("The webhook's signature or secret token is invalid.", code="INVALID_SIGNATURE")
        )
    try:
        events = adapter.parse(ctx, webhook)
    except Exception:
        return _error(BusinessError("The webhook body could not be parsed.", code="INVALID_WEBHOOK"))
    stored = await store.store_events(session, inbox.workspace_id, inbox.id, events)
    if stored:
        tasks.kick_after_commit(session, inbox.id)
    return JSONResponse({"ok": True, "received": len(events), "stored": stored})
