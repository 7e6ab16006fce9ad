"""Builds the ASGI app: routers, middleware, error handlers, OpenAPI, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import pkgutil
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.routing import BaseRoute

import chatbotx
from chatbotx.channels import email_poll
from chatbotx.dispatcher import runner as dispatcher
from chatbotx.dispatcher.sender_lock import process_lock, run_while_held
from chatbotx.inbound import tasks as inbound
from chatbotx.kit import db, events, jobs
from chatbotx.kit.errors import install_error_handlers
from chatbotx.kit.http import close_http_client
from chatbotx.kit.limits import BodyLimitMiddleware
from chatbotx.kit.security import AuthMiddleware
from chatbotx.mcp.lazy import LazyMcp
from chatbotx.settings import Settings, get_settings

API_PREFIXES = ("/api/v1/",)
UPLOAD_PATHS = ("/api/v1/files",)


def discover_routers() -> list[APIRouter]:
    """The `router` of every domain package that has an `endpoints` module."""
    routers: list[APIRouter] = []
    for module in sorted(pkgutil.iter_modules(chatbotx.__path__), key=lambda m: m.name):
        if not module.ispkg:
            continue
        try:
            endpoints = importlib.import_module(f"chatbotx.{module.name}.endpoints")
        except ModuleNotFoundError as exc:
            if exc.name != f"chatbotx.{module.name}.endpoints":
                raise
            continue
        routers.extend(
            r for name, r in vars(endpoints).items() if name.endswith("router") and isinstance(r, APIRouter)
        )
    return routers


def _specificity(route: BaseRoute) -> tuple[int, ...]:
    """Literal path segments sort before parameters at the same position."""
    path = getattr(route, "path", "")
    return tuple(1 if segment.startswith("{") else 0 for segment in path.split("/"))


def api_routes() -> list[BaseRoute]:
    """Every domain route, most specific first: `/contacts/imports` must match before `/contacts/{identifier}`
    whichever router declared its route first. (Each route already carries its router's prefix and tags.)"""
    routes = [route for router in discover_routers() for route in router.routes]
    return sorted(routes, key=_specificity)


GC_GEN0_THRESHOLD = 10_000
_gc_tuned = False


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the request path (a process-wide setting, made once a server
    has started).

    Freezing what startup built (modules, routes, models, SQLAlchemy's caches) takes those objects out of
    every later full collection: each one walked them all, about 100 ms of CPU under load, every few
    hundred requests. And a list page allocates hundreds of containers that refcounting frees anyway: with
    the default first threshold (700), the ones in flight in concurrent requests triggered a collection and
    were promoted at almost every request. (listContacts under wrk: 0.1 to 0.15 ms less CPU a request, and no
    100 ms pauses; see docs/benchmarks.md.)"""
    global _gc_tuned
    if _gc_tuned:  # once a process (tests start many apps: objects frozen are never collected)
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)


BACKGROUND_RETRY = 5.0  # seconds: how often a waiting worker process tries the background lock


async def background_loops() -> None:
    """What one worker process of several runs for the whole server (elected by a process lock, so that a
    second process does not do the same work again): resuming interrupted imports, the inbound sweeper and
    the email poller. Runs until cancelled; another process takes over when this one stops or dies."""
    await jobs.run_worker_startup()
    inbound.start()
    email_poll.start()
    try:
        await asyncio.Future()  # until cancelled
    finally:
        await inbound.stop()
        await email_poll.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = db.get_database()
        lock = None
        if settings.workers > 1 and not settings.no_worker:
            lock = process_lock(database.engine, "background")
        await jobs.startup(worker_hooks=lock is None)
        worker = None
        if jobs.is_external() and not settings.no_worker:
            worker = jobs.start_worker(worker_hooks=lock is None)
        background = None
        if not settings.no_worker:
            dispatcher.start()  # sends queued messages (chatbotx server worker runs it in scale-out)
            if lock is not None:
                background = asyncio.create_task(run_while_held(lock, background_loops, BACKGROUND_RETRY))
            else:
                inbound.start()  # re-queues webhook events left pending (a crash between store and process)
                email_poll.start()  # fetches new mail of the email channels over IMAP
        tune_gc()
        try:
            yield
        finally:
            await dispatcher.stop()
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
            await inbound.stop()
            await email_poll.stop()
            await events.close()
            await mcp_http.close()
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await jobs.broker.shutdown()
            await close_http_client()
            await database.dispose()

    app = FastAPI(
        title="ChatbotX API",
        version=chatbotx.__version__,
        description="The ChatbotX workspace API: contacts, conversations, automation and channels.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.router.routes.extend(api_routes())
    # /sse, /sse/messages/ and /mcp (they check the token themselves); the MCP SDK loads on first use.
    mcp_http = LazyMcp(app)
    app.router.routes.extend(mcp_http.routes())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            async with db.get_database().engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                servers=[{"url": "/", "description": "This server"}],
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/api/public-spec.json", include_in_schema=False)
    async def public_spec() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.add_middleware(
        AuthMiddleware, prefixes=API_PREFIXES, rate_limit_per_minute=settings.rate_limit_per_minute
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        upload_paths=UPLOAD_PATHS,
        max_upload_bytes=settings.max_upload_bytes,
    )
    return app
