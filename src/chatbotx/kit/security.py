"""API tokens (random, prefixed, stored as SHA-256), the caller's identity, scopes and the auth middleware."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPBearer
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from chatbotx.kit.errors import ApiError, Forbidden, RateLimited, Unauthorized
from chatbotx.kit.ratelimit import KeyedLimiter

TOKEN_PREFIX = "cbx_"
ALL_SCOPES = "*"

# Resources whose operations are guarded by "<resource>.list" (reads) and "<resource>.edit" (writes).
RESOURCES = (
    "workspace",
    "members",
    "teams",
    "channels",
    "contacts",
    "tags",
    "custom_fields",
    "bot_fields",
    "conversations",
    "messages",
    "flows",
    "sequences",
    "broadcasts",
    "keywords",
    "triggers",
    "webhooks",
    "saved_replies",
    "template_messages",
    "ai_agents",
    "integrations",
    "error_logs",
    "files",
)
SCOPES = tuple(f"{r}.{a}" for r in RESOURCES for a in ("list", "edit"))


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    workspace_id: int
    token_id: int
    member_id: int | None
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return ALL_SCOPES in self.scopes or scope in self.scopes


def extract_token(headers: dict[bytes, bytes], query_string: bytes) -> str | None:
    auth = headers.get(b"authorization")
    if auth:
        scheme, _, value = auth.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    header = headers.get(b"x-workspace-token") or headers.get(b"api_access_token")
    if header:
        return header.decode("latin-1").strip()
    if query_string:
        from urllib.parse import parse_qsl

        for key, value in parse_qsl(query_string.decode("latin-1")):
            if key in ("token", "workspace_token") and value:
                return value
    return None


class TokenCache:
    """Resolved tokens for a few seconds: a burst of requests costs one lookup; revocation waits the TTL."""

    def __init__(self, ttl: float = 5.0, size: int = 10_000):
        self.ttl = ttl
        self.size = size
        self.entries: dict[str, tuple[float, Principal | None]] = {}

    def get(self, token_hash: str) -> tuple[bool, Principal | None]:
        entry = self.entries.get(token_hash)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, token_hash: str, principal: Principal | None) -> None:
        if len(self.entries) >= self.size:
            self.entries.clear()
        self.entries[token_hash] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        self.entries.clear()


token_cache = TokenCache()


async def resolve_token(token: str) -> Principal | None:
    from chatbotx.kit.db import get_database
    from chatbotx.models import ApiToken

    token_hash = hash_token(token)
    hit, principal = token_cache.get(token_hash)
    if hit:
        return principal
    async with get_database().sessionmaker() as session:
        row = (
            await session.execute(
                select(ApiToken.id, ApiToken.workspace_id, ApiToken.member_id, ApiToken.scopes).where(
                    ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None)
                )
            )
        ).first()
    principal = None
    if row is not None:
        principal = Principal(row.workspace_id, row.id, row.member_id, frozenset(row.scopes or ()))
    token_cache.put(token_hash, principal)
    return principal


class AuthMiddleware:
    """Authenticates every request under the protected prefixes before anything else reads it.

    Runs before body parsing, so a missing or wrong token is always a 401 (never a 422 or a 500),
    and applies the per-token rate limit (429 with Retry-After).
    """

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...], rate_limit_per_minute: int):
        self.app = app
        self.prefixes = prefixes
        self.limiter = KeyedLimiter(rate_limit_per_minute) if rate_limit_per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        token = extract_token(headers, scope.get("query_string", b""))
        error: ApiError | None = None
        if token is None:
            error = Unauthorized(
                "Missing API token: send 'Authorization: Bearer <token>', 'x-workspace-token' or '?token='."
            )
        else:
            principal = await resolve_token(token)
            if principal is None:
                error = Unauthorized("Invalid or revoked API token.")
            else:
                # A fresh state dict: a server may share one across requests (asgi-lifespan does).
                scope["state"] = {**scope.get("state", {}), "principal": principal}
                if self.limiter is not None:
                    wait = self.limiter.hit(str(principal.token_id))
                    if wait:
                        error = RateLimited(wait)
        if error is not None:
            await _send_error(send, error)
            return
        await self.app(scope, receive, send)


async def _send_error(send: Send, error: ApiError) -> None:
    body = orjson.dumps(error.body())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if isinstance(error, Unauthorized):
        headers.append((b"www-authenticate", b"Bearer"))
    for key, value in (error.headers or {}).items():
        headers.append((key.lower().encode(), value.encode()))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# Declared for the OpenAPI document (the middleware does the checking): any one of these is enough.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="developerAccessToken",
    description="Authorization: Bearer <workspace token>",
)
query_scheme = APIKeyQuery(
    name="token", auto_error=False, scheme_name="tokenInSearchParams", description="?token=<workspace token>"
)
header_scheme = APIKeyHeader(
    name="x-workspace-token",
    auto_error=False,
    scheme_name="workspaceToken",
    description="x-workspace-token header",
)


def current_principal(
    request: Request,
    _bearer: Any = Depends(bearer_scheme),
    _query: Any = Depends(query_scheme),
    _header: Any = Depends(header_scheme),
) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:  # only reachable if the middleware is not installed
        raise Unauthorized("Missing API token.")
    return principal


def require(scope: str) -> Callable[..., Principal]:
    """A dependency giving the caller's Principal, refusing with 403 if the token lacks `scope`."""

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.allows(scope):
            raise Forbidden(f"This token lacks the scope {scope!r}.", scope=scope)
        return principal

    dependency.__name__ = f"require_{scope.replace('.', '_')}"
    return dependency
