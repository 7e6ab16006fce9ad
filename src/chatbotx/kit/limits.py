"""Request guards applied before routing: bodies over the configured size, and NUL bytes in the path or query
(PostgreSQL text cannot hold them, so they are refused up front on every backend alike)."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatbotx.kit.errors import ApiError, PayloadTooLarge, invalid_field


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, upload_paths: tuple[str, ...], max_upload_bytes: int):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_paths = upload_paths
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope):
            await _send_error(send, invalid_field("url", "must not contain NUL characters"))
            return
        limit = self.max_upload_bytes if scope["path"].startswith(self.upload_paths) else self.max_bytes
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > limit:
                await _refuse(send, limit)
                return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Stop reading: the app sees a disconnect, and its answer is replaced by our 413.
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
        if refused:
            await _refuse(send, limit)


def _has_nul(scope: Scope) -> bool:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return any(b"\x00" in part or b"%00" in part for part in (raw_path, query, scope["path"].encode()))


async def _refuse(send: Send, limit: int) -> None:
    await _send_error(send, PayloadTooLarge(f"Request body is larger than {limit} bytes.", limit=limit))


async def _send_error(send: Send, error: ApiError) -> None:
    body = orjson.dumps(error.body())
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
