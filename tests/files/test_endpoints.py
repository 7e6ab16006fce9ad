from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from chatbotx.app import create_app
from chatbotx.files import endpoints as files_endpoints
from chatbotx.settings import Settings


async def upload(client: httpx.AsyncClient, content: bytes, name: str = "data.csv", ctype: str = "text/csv"):
    return await client.post("/api/v1/files", files={"file": (name, content, ctype)})


async def test_upload_get_download_round_trip(api: httpx.AsyncClient) -> None:
    content = os.urandom(3 * 1024 * 1024 + 17)  # bigger than the multipart spool and the copy chunk
    response = await upload(api, content, "blob.bin", "application/octet-stream")
    assert response.status_code == 201, response.text
    meta = response.json()
    assert set(meta) == {"id", "filename", "contentType", "size", "sha256", "createdAt"}
    assert meta["filename"] == "blob.bin" and meta["size"] == len(content)
    assert meta["sha256"] == hashlib.sha256(content).hexdigest()
    assert meta["id"].isdigit()

    got = await api.get(f"/api/v1/files/{meta['id']}")
    assert got.status_code == 200 and got.json() == meta

    downloaded = await api.get(f"/api/v1/files/{meta['id']}/content")
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert "blob.bin" in downloaded.headers["content-disposition"]


async def test_content_type_and_filename_are_cleaned(api: httpx.AsyncClient) -> None:
    meta = (await upload(api, b"a,b\n1,2\n", "C:\\Users\\me\\contacts.csv", "")).json()
    assert meta["filename"] == "contacts.csv"
    assert meta["contentType"] == "text/csv"
    downloaded = await api.get(f"/api/v1/files/{meta['id']}/content")
    assert downloaded.headers["content-type"].startswith("text/csv")
    assert downloaded.content == b"a,b\n1,2\n"


async def test_empty_file_is_stored(api: httpx.AsyncClient) -> None:
    meta = (await upload(api, b"", "empty.txt", "text/plain")).json()
    assert meta["size"] == 0 and meta["sha256"] == hashlib.sha256(b"").hexdigest()
    assert (await api.get(f"/api/v1/files/{meta['id']}/content")).content == b""


async def test_missing_file_field_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/files", data={"other": "x"}, files={"nope": ("a", b"b")})
    assert response.status_code == 422
    assert response.json()["data"]["errors"][0]["field"] == "file"


async def test_too_large_by_content_length_is_413(settings: Settings, tenant) -> None:  # type: ignore[no-untyped-def]
    # A second app whose body-limit middleware allows 1000 bytes on /api/v1/files.
    small = create_app(settings.model_copy(update={"max_upload_bytes": 1000}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=small),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {tenant.token}"},
    ) as client:
        response = await upload(client, b"x" * 5000)
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_too_large_file_is_413_and_nothing_is_kept(
    api: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The request fits the middleware's limit, but the file itself is over the configured size.
    limited = settings.model_copy(update={"max_upload_bytes": 2 * 1024 * 1024})
    monkeypatch.setattr(files_endpoints, "get_settings", lambda: limited)
    before = (
        {p for p in settings.files_dir.rglob("*") if p.is_file()} if settings.files_dir.exists() else set()
    )
    response = await upload(api, b"y" * (2 * 1024 * 1024 + 1))
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    after = {p for p in settings.files_dir.rglob("*") if p.is_file()}
    assert after == before
    assert (await upload(api, b"y" * 1024)).status_code == 201


async def test_scopes_and_ids(api: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/api/v1/files/1")).status_code == 401
    assert (await api.get("/api/v1/files/not-an-id")).status_code == 404
    assert (await api.get("/api/v1/files/123")).status_code == 404
    assert (await api.get("/api/v1/files/123/content")).status_code == 404


async def test_other_workspace_file_is_404(api: httpx.AsyncClient, other_tenant) -> None:  # type: ignore[no-untyped-def]
    meta = (await upload(api, b"secret")).json()
    other = other_tenant.client
    assert (await other.get(f"/api/v1/files/{meta['id']}")).status_code == 404
    assert (await other.get(f"/api/v1/files/{meta['id']}/content")).status_code == 404


async def test_openapi_declares_the_multipart_body(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/api/openapi.json")).json()
    upload_op = spec["paths"]["/api/v1/files"]["post"]
    assert upload_op["operationId"] == "uploadFile" and upload_op["x-cli-name"] == "files upload"
    body = upload_op["requestBody"]["content"]["multipart/form-data"]["schema"]
    schema = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert schema["required"] == ["file"]
    assert schema["properties"]["file"]["format"] == "binary"
    assert spec["paths"]["/api/v1/files/{id}/content"]["get"]["operationId"] == "downloadFile"
