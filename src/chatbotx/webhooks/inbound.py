"""Channel webhooks: /webhooks/{channel}/{inboxId} (no API token; the provider's signature or secret instead).

GET answers the provider's verification handshake. POST verifies, parses, stores each event once
(InboundEvent, dedupe key per inbox), kicks the `inbound.process` job and answers 200 at once.
Not part of the API document: providers call these, not API clients (see docs/channel-webhooks.md).

POST is the hot path (every message and receipt of every channel), so it skips FastAPI's dependency
machinery and the ORM: one autocommit connection, a Core read of four of the inbox's columns, the channel
context (decrypted credentials) cached per inbox for as long as its config and sealed credentials read back
unchanged, and one INSERT ... ON CONFLICT DO NOTHING RETURNING statement (atomic on its own: no BEGIN or
COMMIT round trips). The job is kicked once the row is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatbotx.channels import registry
from chatbotx.channels.base import ChannelAdapter, ChannelContext, WebhookRequest
from chatbotx.channels.context import channel_context
from chatbotx.inbound import store, tasks
from chatbotx.kit.db import SessionDep, get_database
from chatbotx.kit.errors import ApiError, BusinessError, Forbidden, NotFound
from chatbotx.kit.http import http_client
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


INBOX: Table = Inbox.__table__  # type: ignore[assignment]
_READ_INBOX = select(INBOX.c.workspace_id, INBOX.c.channel, INBOX.c.config, INBOX.c.credentials).where(
    INBOX.c.id == bindparam("inbox_id")
)
CONTEXTS_KEPT = 1024

# inbox id -> ((config as JSON, sealed credentials, HTTP client), context): rebuilt when any of them changed.
_contexts: dict[int, tuple[tuple[bytes, str | None, int], ChannelContext]] = {}


async def _target(
    conn: AsyncConnection, channel: str, inbox_id: str
) -> tuple[ChannelContext, ChannelAdapter]:
    """The inbox's channel context and adapter; 404 as `_inbox` says."""
    parsed = parse_id(inbox_id)
    row = None
    if parsed is not None:
        row = (await conn.execute(_READ_INBOX, {"inbox_id": parsed})).first()
    adapter = registry.get(channel)
    if row is None or row.channel != channel or adapter is None:
        raise NotFound("No such channel webhook.", resource="channel")
    assert parsed is not None
    http = http_client()
    key = (orjson.dumps(row.config, option=orjson.OPT_SORT_KEYS), row.credentials, id(http))
    cached = _contexts.get(parsed)
    if cached is not None and cached[0] == key:
        return cached[1], adapter
    inbox = Inbox(
        id=parsed,
        workspace_id=row.workspace_id,
        channel=row.channel,
        config=row.config,
        credentials=row.credentials,
    )  # transient: what channel_context reads
    ctx = channel_context(inbox)
    if len(_contexts) >= CONTEXTS_KEPT:
        _contexts.clear()
    _contexts[parsed] = (key, ctx)
    return ctx, adapter


async def receive(request: Request) -> Response:
    body = await request.body()
    engine = get_database().engine
    if engine.dialect.name == "postgresql":
        return await _receive(request, body)
    # SQLite: the whole webhook in this process's write turn, taken before a pooled connection is (a batch
    # holding the turn must always find a free connection).
    async with store.sqlite_writes():
        return await _receive(request, body)


async def _receive(request: Request, body: bytes) -> Response:
    params = request.path_params
    async with get_database().engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="AUTOCOMMIT")  # one statement: no BEGIN/COMMIT
        ctx, adapter = await _target(conn, params["channel"], params["inboxId"])
        webhook = WebhookRequest(
            method=request.method,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query_params),
            body=body,
        )
        if not adapter.verify(ctx, webhook):
            # Nothing is stored; the same error whatever was wrong (missing or mismatched signature/secret).
            return _error(
                Forbidden("The webhook's signature or secret token is invalid.", code="INVALID_SIGNATURE")
            )
        try:
            events = adapter.parse(ctx, webhook)
        except Exception:
            return _error(BusinessError("The webhook body could not be parsed.", code="INVALID_WEBHOOK"))
        stored = await store.insert_events(conn, ctx.workspace_id, ctx.inbox_id, events)
        await conn.commit()  # SQLite; on PostgreSQL the statement committed already
    if stored:
        await tasks.kick_now(ctx.inbox_id)
    return Response(
        orjson.dumps({"ok": True, "received": len(events), "stored": stored}), media_type="application/json"
    )


class ReceiveRoute(APIRoute):
    """POST /webhooks/{channel}/{inboxId} answered by `receive` directly (no dependency solving)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return receive


inbound_router.add_api_route(
    "/{channel}/{inboxId}", receive, methods=["POST"], route_class_override=ReceiveRoute
)
