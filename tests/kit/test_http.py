"""The shared outgoing HTTP client over aiohttp's pool: requests, timeouts, failures as httpx errors, no
cookies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from chatbotx.kit.http import new_http_client

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


async def serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with new_http_client(timeout=httpx.Timeout(2.0, connect=2.0)) as client:
        yield client


async def test_posts_and_reads_the_answer_over_one_kept_alive_connection(client: httpx.AsyncClient) -> None:
    seen: list[tuple[bytes, bytes]] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                seen.append(await read_request(reader))
            except asyncio.IncompleteReadError:
                break
            body = b'{"ok":true}'
            writer.write(
                b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Answer: yes\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        writer.close()

    server, url = await serve(handler)
    async with server:
        for _ in range(3):
            response = await client.post(
                f"{url}/v1/messages", content=b'{"to":"1"}', headers={"X-Token": "t"}
            )
            assert response.status_code == 201
            assert response.json() == {"ok": True}
            assert response.headers["x-answer"] == "yes"
    assert connections == 1
    head, body = seen[0]
    assert head.startswith(b"POST /v1/messages HTTP/1.1\r\n")
    assert b"x-token: t" in head.lower()
    assert body == b'{"to":"1"}'


async def test_keeps_no_cookie_a_provider_sets(client: httpx.AsyncClient) -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head, _ = await read_request(reader)
            except asyncio.IncompleteReadError:
                break
            heads.append(head)
            writer.write(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: session=tenant-a; Path=/\r\nContent-Length: 0\r\n\r\n"
            )
            await writer.drain()
        writer.close()

    server, url = await serve(handler)
    async with server:
        await client.get(f"{url}/a")
        await client.get(f"{url}/b")
    assert len(heads) == 2
    assert b"cookie" not in heads[1].lower().replace(b"set-cookie", b"")
    assert not client.cookies


async def test_a_refused_connection_is_an_httpx_transport_error(client: httpx.AsyncClient) -> None:
    server, url = await serve(lambda reader, writer: asyncio.sleep(0))
    server.close()
    await server.wait_closed()
    with pytest.raises(httpx.TransportError):
        await client.get(f"{url}/x")


async def test_an_answer_that_never_comes_is_a_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server, url = await serve(handler)
    async with server, new_http_client(timeout=httpx.Timeout(0.3, connect=1.0)) as client:
        with pytest.raises(httpx.TimeoutException):
            await client.get(f"{url}/slow")


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"this is not HTTP\r\n\r\n", id="malformed"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", id="closed mid-answer"),
    ],
)
async def test_a_broken_answer_is_an_httpx_transport_error(client: httpx.AsyncClient, answer: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server, url = await serve(handler)
    async with server:
        with pytest.raises(httpx.TransportError):
            await client.get(f"{url}/broken")


async def test_uploads_a_multipart_body_whole(client: httpx.AsyncClient) -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server, url = await serve(handler)
    payload = bytes(range(256)) * 400  # 100 KiB, every byte value
    async with server:
        response = await client.post(
            f"{url}/sendDocument", data={"chat_id": "42"}, files={"document": ("a.bin", payload)}
        )
    assert response.status_code == 200
    head, body = seen[0]
    assert b"multipart/form-data; boundary=" in head
    assert b'name="chat_id"\r\n\r\n42\r\n' in body
    assert payload in body
