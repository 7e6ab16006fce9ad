"""A test-only channel: a fake provider (a real HTTP server in a thread, recording every request with its
arrival time, scriptable failures) and the adapter that speaks to it. Each test registers its own channel
name, so no two tests (and not the app's own dispatcher) share work.

Wire format: POST {base}/send with header `Authorization: Bearer <token>` and JSON
{"id": <our message id>, "to": ..., "text": ..., "attachments": [{"kind", "url"}], "buttons": [...],
"quickReplies": [...], "template": {...}}; success 200 {"messageId": "p-<n>"}; errors
429 {"error": "slow down", "retryAfter": s}, 403 {"error": "blocked"}, 404 {"error": "no such user"},
401 {"error": "bad token"}, 500 {"error": "boom"}.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chatbotx.channels import base, registry
from tests.fakes.serving import serve_asgi

GOOD_TOKEN = "good-token"
FAILURES: dict[str, tuple[int, dict[str, Any]]] = {
    "rate_limited": (429, {"error": "slow down", "retryAfter": 3}),
    "blocked": (403, {"error": "blocked"}),
    "invalid_recipient": (404, {"error": "no such user"}),
    "bad_token": (401, {"error": "bad token"}),
    "server_error": (500, {"error": "boom"}),
}


@dataclasses.dataclass
class Received:
    at: float  # time.time() when the request arrived
    body: dict[str, Any]


class FakeProvider:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.failures: list[tuple[int, dict[str, Any]]] = []
        self.delay = 0.0  # seconds before answering a send
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.base_url = ""
        self.app = Starlette(routes=[Route("/send", self.send, methods=["POST"]), Route("/me", self.me)])

    def fail_next(self, count: int, kind: str) -> None:
        with self.lock:
            self.failures.extend([FAILURES[kind]] * count)

    async def wait_for(self, count: int) -> None:
        """Until `count` requests have arrived (polling: the server runs in another thread); 30 s at most."""
        deadline = time.monotonic() + 30
        while len(self.received) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    def sent_ids(self) -> list[int]:
        return [r.body["id"] for r in self.received]

    async def me(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {GOOD_TOKEN}":
            return JSONResponse({"error": "bad token"}, status_code=401)
        return JSONResponse({"name": "fake bot"})

    async def send(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self.lock:
            self.received.append(Received(time.time(), body))
            failure = self.failures.pop(0) if self.failures else None
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.headers.get("authorization") != f"Bearer {GOOD_TOKEN}":
            return JSONResponse({"error": "bad token"}, status_code=401)
        if failure is not None:
            return JSONResponse(failure[1], status_code=failure[0])
        return JSONResponse({"messageId": f"p-{next(self.ids)}"})


@contextlib.contextmanager
def serve_fake_provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    with serve_asgi(fake.app) as url:
        fake.base_url = url
        yield fake


class FakeAdapter:
    """The adapter of the fake provider; `window` set for a WhatsApp-like channel."""

    channel: ClassVar[str]  # set per instance (each test registers its own name)

    def __init__(self, channel: str, base_url: str, window: dt.timedelta | None = None):
        self.channel = channel  # type: ignore[misc]
        self.base_url = base_url
        self.window = window  # type: ignore[misc]

    def rate_plan(self, config: dict[str, Any]) -> base.RatePlan:
        return base.RatePlan(
            per_second=config.get("perSecond"),
            per_recipient_per_second=config.get("perRecipient"),
            burst=config.get("burst", 1),
        )

    def _headers(self, ctx: base.ChannelContext) -> dict[str, str]:
        return {"Authorization": f"Bearer {ctx.credentials.get('token', '')}"}

    async def connect(self, ctx: base.ChannelContext) -> dict[str, Any]:
        response = await ctx.http.get(f"{self.base_url}/me", headers=self._headers(ctx))
        if response.status_code == 401:
            raise base.ProviderError(base.TOKEN_INVALID, "The token was refused", provider_code=401)
        return {"botName": response.json()["name"]}

    async def send(self, ctx: base.ChannelContext, message: base.OutboundMessage) -> base.SendResult:
        body = {
            "id": message.message_id,
            "to": message.recipient,
            "text": message.text,
            "attachments": [{"kind": a.kind, "url": a.url, "name": a.filename} for a in message.attachments],
            "buttons": [dataclasses.asdict(b) for b in message.buttons],
            "quickReplies": [dataclasses.asdict(b) for b in message.quick_replies],
            "template": dataclasses.asdict(message.template) if message.template else None,
        }
        try:
            response = await ctx.http.post(f"{self.base_url}/send", json=body, headers=self._headers(ctx))
        except httpx.TransportError as exc:
            raise base.ProviderError(base.PROVIDER_UNAVAILABLE, str(exc), retryable=True) from exc
        data = response.json()
        status = response.status_code
        if status == 200:
            return base.SendResult(data["messageId"])
        if status == 429:
            raise base.ProviderError(
                base.RATE_LIMITED,
                data["error"],
                retry_after=data["retryAfter"],
                retryable=True,
                provider_code=429,
            )
        code = {401: base.TOKEN_INVALID, 403: base.BLOCKED_BY_USER, 404: base.INVALID_RECIPIENT}.get(status)
        if code:
            raise base.ProviderError(code, data["error"], provider_code=status)
        raise base.ProviderError(
            base.PROVIDER_UNAVAILABLE, data["error"], retryable=True, provider_code=status
        )

    async def handshake(self, ctx: base.ChannelContext, request: base.WebhookRequest) -> None:
        return None

    def verify(self, ctx: base.ChannelContext, request: base.WebhookRequest) -> bool:
        return False

    def parse(self, ctx: base.ChannelContext, request: base.WebhookRequest) -> list[base.InboundEvent]:
        return []

    async def download(
        self, ctx: base.ChannelContext, attachment: base.Attachment
    ) -> tuple[bytes, str | None]:
        raise NotImplementedError


@contextlib.contextmanager
def registered(base_url: str, window: dt.timedelta | None = None) -> Iterator[FakeAdapter]:
    """A fake adapter under a fresh channel name, registered for the duration."""
    adapter = FakeAdapter(f"fake{uuid.uuid4().hex[:8]}", base_url, window)
    registry.register(adapter)  # type: ignore[arg-type]
    try:
        yield adapter
    finally:
        registry._adapters.pop(adapter.channel, None)
