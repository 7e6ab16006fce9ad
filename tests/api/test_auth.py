"""Authentication and request guards on every /api/v1 operation: 401/403/429/413/400, never a 500."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from chatbotx.app import create_app
from chatbotx.kit import db
from chatbotx.kit.security import token_cache
from chatbotx.models import ApiToken
from chatbotx.settings import Settings
from chatbotx.workspaces.service import create_token
from tests.api.spec import Operation, operations
from tests.conftest import Tenant

ERROR_KEYS = {"code", "status", "message", "data"}


def _path(op: Operation) -> str:
    """The operation's path with placeholder ids (auth is checked before any id is looked at)."""
    path = op.path
    for param in op.path_params:
        path = path.replace("{" + param + "}", "id:1" if param == "identifier" else "1")
    return path


def _assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == status and body["code"] == code and body["message"]


OPS = operations()


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.operation_id)
async def test_missing_token_is_401(anon: httpx.AsyncClient, op: Operation) -> None:
    response = await anon.request(op.method, _path(op), json={} if op.body_media_type else None)
    _assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers.get("www-authenticate") == "Bearer"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.operation_id)
async def test_wrong_token_is_401(anon: httpx.AsyncClient, op: Operation) -> None:
    headers = {"Authorization": "Bearer cbx_not-a-real-token"}
    response = await anon.request(op.method, _path(op), headers=headers)
    _assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer", "Token abc", "Bearer \u00e9\u00e9"],
)
async def test_malformed_authorization_header_is_401(anon: httpx.AsyncClient, header: str) -> None:
    response = await anon.get("/api/v1/tags", headers={"Authorization": header.encode("utf-8")})  # type: ignore[dict-item]
    _assert_error(response, 401, "UNAUTHORIZED")


async def test_the_three_token_forms_work(anon: httpx.AsyncClient, tenant: Tenant) -> None:
    await tenant.client.post("/api/v1/tags", json={"name": "seen"})
    forms = [
        anon.get("/api/v1/tags", headers={"Authorization": f"Bearer {tenant.token}"}),
        anon.get("/api/v1/tags", params={"token": tenant.token}),
        anon.get("/api/v1/tags", headers={"x-workspace-token": tenant.token}),
    ]
    for request in forms:
        response = await request
        assert response.status_code == 200, response.text
        assert [t["name"] for t in response.json()] == ["seen"]


async def test_revoked_or_other_tokens_never_leak_across_forms(anon: httpx.AsyncClient) -> None:
    response = await anon.get("/api/v1/tags", params={"token": "cbx_wrong"})
    _assert_error(response, 401, "UNAUTHORIZED")
    response = await anon.get("/api/v1/tags", headers={"x-workspace-token": "cbx_wrong"})
    _assert_error(response, 401, "UNAUTHORIZED")


async def _scoped_token(tenant: Tenant, scopes: list[str]) -> str:
    async with db.get_database().sessionmaker() as session:
        _, plain = await create_token(session, int(tenant.workspace_id), scopes, name="scoped")
        await db.commit(session)
    return plain


async def test_scope_allows_reads_and_refuses_writes(anon: httpx.AsyncClient, tenant: Tenant) -> None:
    token = await _scoped_token(tenant, ["tags.list"])
    headers = {"Authorization": f"Bearer {token}"}
    assert (await anon.get("/api/v1/tags", headers=headers)).status_code == 200
    refused = await anon.post("/api/v1/tags", json={"name": "nope"}, headers=headers)
    _assert_error(refused, 403, "FORBIDDEN")
    other_resource = await anon.get("/api/v1/custom-fields", headers=headers)
    _assert_error(other_resource, 403, "FORBIDDEN")
    assert (await tenant.client.get("/api/v1/tags")).json() == []  # the refused write wrote nothing


@pytest.fixture
async def limited_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app built with a limit of 3 requests per minute per token (same database)."""
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 3}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_rate_limit_answers_429_with_retry_after(
    limited_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = {"Authorization": f"Bearer {tenant.token}"}
    for _ in range(3):
        assert (await limited_client.get("/api/v1/tags", headers=headers)).status_code == 200
    limited = await limited_client.get("/api/v1/tags", headers=headers)
    _assert_error(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    other = await _scoped_token(tenant, ["tags.list"])  # the limit is per token
    assert (await limited_client.get("/api/v1/tags", headers={"x-workspace-token": other})).status_code == 200


async def test_oversize_body_is_413(api: httpx.AsyncClient, settings: Settings) -> None:
    big = b'{"name": "' + b"x" * settings.max_body_bytes + b'"}'
    response = await api.post("/api/v1/tags", content=big, headers={"content-type": "application/json"})
    _assert_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_oversize_chunked_body_is_413(api: httpx.AsyncClient, settings: Settings) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit must count what arrives
        yield b'{"name": "'
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    response = await api.post("/api/v1/tags", content=chunks(), headers={"content-type": "application/json"})
    _assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert (await api.get("/api/v1/tags")).json() == []


@pytest.mark.parametrize("raw", [b"{nope", b"", b'{"name": "a"', b"\xff\xfe", b"[1,2"])
async def test_malformed_json_is_400(api: httpx.AsyncClient, raw: bytes) -> None:
    response = await api.post("/api/v1/tags", content=raw, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert set(response.json()) == ERROR_KEYS
    if raw and raw != b"\xff\xfe":
        _assert_error(response, 400, "MALFORMED_JSON")


async def test_tokens_are_stored_hashed(tenant: Tenant) -> None:
    token_cache.clear()
    async with db.get_database().sessionmaker() as session:
        rows = (
            (await session.execute(select(ApiToken).where(ApiToken.workspace_id == int(tenant.workspace_id))))
            .scalars()
            .all()
        )
    assert rows
    digest = hashlib.sha256(tenant.token.encode()).hexdigest()
    assert any(row.token_hash == digest for row in rows)
    for row in rows:
        for column in ApiToken.__table__.columns:
            value = getattr(row, column.key)
            assert tenant.token not in str(value), f"plaintext token in api_token.{column.key}"
