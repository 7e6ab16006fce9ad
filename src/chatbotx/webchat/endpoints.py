"""The webchat Client API: /public/api/v1/inboxes/{inbox_identifier}/... (Chatwoot's public API shape).

Unauthenticated (the visitor's source id, and the pubsub token for the stream, are the credentials), so it is
kept out of the workspace API and its OpenAPI document (the CLI and MCP are generated from that one): it is a
small app of its own mounted at /public/api/v1, with CORS open to any origin (the widget runs on the
customer's site; no cookies are used), a small body limit and per IP-and-inbox rate limits. Documented in
docs/channels/webchat.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from chatbotx.events.endpoints import _last_event_id
from chatbotx.kit.db import SessionDep, get_database
from chatbotx.kit.errors import Unauthorized, install_error_handlers
from chatbotx.kit.limits import BodyLimitMiddleware
from chatbotx.models import Conversation, Inbox
from chatbotx.settings import get_settings
from chatbotx.webchat import realtime, schemas, service
from chatbotx.webchat.guard import limits
from chatbotx.webchat.public import public_conversation
from chatbotx.webchat.service import Visitor

PREFIX = "/public/api/v1"
RATE_LIMITED = "WEBCHAT_RATE_LIMITED"

InboxIdentifier = Annotated[str, Path(description="The inbox's public identifier", max_length=64)]
SourceId = Annotated[str, Path(description="The visitor's source id", max_length=255)]
ConversationId = Annotated[str, Path(description="The conversation's id", max_length=40)]


def client_key(request: Request, inbox_identifier: str) -> str:
    host = request.client.host if request.client else "unknown"
    return f"{host}|{inbox_identifier}"


def _limits() -> object:
    settings = get_settings()
    return limits.configure(settings.webchat_requests_per_minute, settings.webchat_messages_per_minute)


async def limit_requests(request: Request, inbox_identifier: InboxIdentifier) -> None:
    _limits()
    limits.requests.check(client_key(request, inbox_identifier), RATE_LIMITED)


async def limit_messages(request: Request, inbox_identifier: InboxIdentifier) -> None:
    _limits()
    limits.messages.check(client_key(request, inbox_identifier), RATE_LIMITED)


async def current_inbox(session: SessionDep, inbox_identifier: InboxIdentifier) -> Inbox:
    return await service.inbox_of(session, inbox_identifier)


InboxDep = Annotated[Inbox, Depends(current_inbox)]


async def current_visitor(session: SessionDep, inbox: InboxDep, source_id: SourceId) -> Visitor:
    return await service.visitor_of(session, inbox, source_id)


VisitorDep = Annotated[Visitor, Depends(current_visitor)]


async def current_conversation(
    session: SessionDep, visitor: VisitorDep, conversation_id: ConversationId
) -> Conversation:
    return await service.conversation_of(session, visitor, conversation_id)


ConversationDep = Annotated[Conversation, Depends(current_conversation)]

routes = APIRouter(prefix="/inboxes/{inbox_identifier}", dependencies=[Depends(limit_requests)])
CONTACT = "/contacts/{source_id}"
CONVERSATION = CONTACT + "/conversations/{conversation_id}"


@routes.get("", response_model=schemas.WidgetConfig)
async def get_inbox(inbox: InboxDep) -> object:
    return service.widget_config(inbox)


@routes.post("/contacts", response_model=schemas.PublicContact)
async def create_contact(session: SessionDep, inbox: InboxDep, body: schemas.ContactCreate) -> object:
    return service.contact_out(await service.create_visitor(session, inbox, body))


@routes.get(CONTACT, response_model=schemas.PublicContact)
async def get_contact(visitor: VisitorDep) -> object:
    return service.contact_out(visitor)


@routes.patch(CONTACT, response_model=schemas.PublicContact)
async def update_contact(session: SessionDep, visitor: VisitorDep, body: schemas.ContactUpdate) -> object:
    return service.contact_out(await service.update_visitor(session, visitor, body))


@routes.post(CONTACT + "/conversations", response_model=schemas.PublicConversation)
async def create_conversation(
    session: SessionDep, visitor: VisitorDep, body: schemas.ConversationCreate | None = None
) -> object:
    return await service.create_conversation(session, visitor, body or schemas.ConversationCreate())


@routes.get(CONTACT + "/conversations", response_model=list[schemas.PublicConversation])
async def list_conversations(session: SessionDep, visitor: VisitorDep) -> object:
    return await service.list_conversations(session, visitor)


@routes.get(CONVERSATION, response_model=schemas.PublicConversation)
async def get_conversation(session: SessionDep, conversation: ConversationDep) -> object:
    out = public_conversation(conversation)
    out.messages = await service.list_messages(session, conversation, None)
    return out


@routes.post(CONVERSATION + "/toggle_status", response_model=schemas.PublicConversation)
async def toggle_status(session: SessionDep, conversation: ConversationDep) -> object:
    return await service.resolve(session, conversation)


@routes.post(CONVERSATION + "/toggle_typing", response_model=schemas.PublicConversation)
async def toggle_typing(
    session: SessionDep, visitor: VisitorDep, conversation: ConversationDep, body: schemas.TypingToggle
) -> object:
    await service.typing(session, visitor, conversation, body.typing_status == "on")
    return public_conversation(conversation)


@routes.post(CONVERSATION + "/update_last_seen", response_model=schemas.PublicConversation)
async def update_last_seen(session: SessionDep, conversation: ConversationDep) -> object:
    return await service.update_last_seen(session, conversation)


@routes.get(CONVERSATION + "/messages", response_model=list[schemas.PublicMessage])
async def list_messages(
    session: SessionDep,
    conversation: ConversationDep,
    before: Annotated[str | None, Query(max_length=40, description="Messages older than this id")] = None,
) -> object:
    return await service.list_messages(session, conversation, before)


@routes.post(
    CONVERSATION + "/messages",
    response_model=schemas.PublicMessage,
    dependencies=[Depends(limit_messages)],
)
async def create_message(
    session: SessionDep, visitor: VisitorDep, conversation: ConversationDep, body: schemas.MessageCreate
) -> object:
    return await service.create_message(session, visitor, conversation, body)


@routes.get(CONTACT + "/events", response_class=StreamingResponse)
async def stream_events(
    inbox_identifier: InboxIdentifier,
    source_id: SourceId,
    pubsub_token: Annotated[str | None, Query(max_length=64)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
    last_event_id_query: Annotated[str | None, Query(alias="lastEventId", max_length=40)] = None,
) -> StreamingResponse:
    after = _last_event_id(last_event_id, last_event_id_query)
    # A session of its own, closed before streaming (the stream may stay open for hours).
    async with get_database().sessionmaker() as session:
        inbox = await service.inbox_of(session, inbox_identifier)
        visitor = await service.visitor_of(session, inbox, source_id)
    if not service.token_matches(visitor, pubsub_token):
        raise Unauthorized("Wrong or missing pubsub_token for this visitor.", code="INVALID_PUBSUB_TOKEN")
    audience = realtime.Audience(inbox.workspace_id, inbox.id, visitor.contact.id)
    return StreamingResponse(
        realtime.stream(audience, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def build_public_app() -> ASGIApp:
    """The public API app: routes, the project's error format, body limit, CORS (outermost, so that errors
    and 413s carry the CORS headers too and the browser can read them)."""
    settings = get_settings()
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.include_router(routes)
    limited = BodyLimitMiddleware(
        app,
        max_bytes=settings.webchat_max_body_bytes,
        upload_paths=(),
        max_upload_bytes=settings.webchat_max_body_bytes,
    )
    return CORSMiddleware(
        limited,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "PATCH", "OPTIONS"],
        allow_headers=["Content-Type", "Last-Event-ID"],
        expose_headers=["Retry-After"],
        max_age=600,
    )


class PublicApp:
    """Built on first use, from the settings of that moment."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            self.app = build_public_app()
        await self.app(scope, receive, send)


public_router = APIRouter()
public_router.mount(PREFIX, PublicApp(), name="webchat-public-api")
