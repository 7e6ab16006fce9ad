"""The CLI's HTTP calls, on the standard library's http.client.

Not httpx: it costs ~150 ms to import, and a CLI command sends one request, so start-up time is most of what
a user waits for. http.client (~30 ms) keeps `chatbotx tags list --json` well under its 300 ms budget.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlencode, urlsplit

if TYPE_CHECKING:
    import http.client

USER_AGENT = "chatbotx-cli"
TIMEOUT_SECONDS = float(os.environ.get("CHATBOTX_HTTP_TIMEOUT_SECONDS", "60"))


class ConnectionFailed(Exception):
    """The server could not be reached (exit code 3)."""


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Upload:
    """A local file sent as a multipart part."""

    path: Path


def query_string(params: dict[str, Any]) -> str:
    """Lists repeat the key (`ids=1&ids=2`), dicts and lists of dicts go as JSON, booleans as true/false."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list) and not any(isinstance(v, dict | list) for v in value):
            pairs.extend((key, _scalar(v)) for v in value)
        else:
            pairs.append((key, _scalar(value)))
    return urlencode(pairs)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def multipart(fields: dict[str, Any]) -> tuple[bytes, str]:
    """Encode form fields and Upload files as multipart/form-data."""
    import mimetypes

    boundary = f"chatbotx-{os.urandom(16).hex()}"
    chunks: list[bytes] = []
    for name, value in fields.items():
        if value is None:
            continue
        values = value if isinstance(value, list) and value and isinstance(value[0], Upload) else [value]
        for item in values:
            chunks.append(f"--{boundary}\r\n".encode())
            if isinstance(item, Upload):
                ctype = mimetypes.guess_type(item.path.name)[0] or "application/octet-stream"
                filename = item.path.name.replace('"', "")
                chunks.append(
                    f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                    f"Content-Type: {ctype}\r\n\r\n".encode()
                )
                chunks.append(item.path.read_bytes())
            else:
                chunks.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
                chunks.append(_scalar(item).encode())
            chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


class StreamLost(Exception):
    """An open stream broke off (reset, truncated, or silent for longer than the read timeout)."""


def _target(parts: SplitResult, params: dict[str, Any] | None) -> str:
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionFailed(f"invalid API URL {parts.geturl()!r} (expected http(s)://host[:port]/api)")
    target = parts.path or "/"
    qs = "&".join(s for s in (parts.query, query_string(params or {})) if s)
    return target + "?" + qs if qs else target


def _headers(token: str | None, accept: str) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _unreachable(parts: SplitResult, exc: Exception) -> ConnectionFailed:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return ConnectionFailed(f"cannot reach {parts.scheme}://{parts.netloc}: {reason}")


def request(
    method: str,
    url: str,
    *,
    token: str | None = None,
    params: dict[str, Any] | None = None,
    json_body: Any = None,
    form: dict[str, Any] | None = None,
    allow_self_signed: bool = False,
    timeout: float = TIMEOUT_SECONDS,
) -> Response:
    """Send one request; raises ConnectionFailed when the server cannot be reached."""
    parts = urlsplit(url)
    target = _target(parts, params)
    headers = _headers(token, "application/json")
    body: bytes | None = None
    if form is not None:
        body, headers["Content-Type"] = multipart(form)
    elif json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif method in ("POST", "PUT", "PATCH"):
        body = b""
    try:
        status, content_type, data = _exchange(
            parts, allow_self_signed, timeout, method, target, headers, body
        )
    except (OSError, ValueError) as exc:
        raise _unreachable(parts, exc) from None
    return Response(status, data, content_type)


def _exchange(
    parts: SplitResult,
    allow_self_signed: bool,
    timeout: float,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes | None,
) -> tuple[int, str, bytes]:
    import http.client

    connection = _connection(parts, allow_self_signed, timeout)
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", "") or "", response.read()
    except http.client.HTTPException as exc:
        raise ValueError(f"bad HTTP response: {type(exc).__name__}") from None
    finally:
        connection.close()


def _connection(parts: SplitResult, allow_self_signed: bool, timeout: float) -> http.client.HTTPConnection:
    """An http.client connection (not yet connected) for the URL's scheme, host and port."""
    import http.client

    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        import ssl

        context = ssl.create_default_context()
        if allow_self_signed:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    return connection


class Stream:
    """An open GET whose body is read as it arrives (Server-Sent Events); use as a context manager."""

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        self.connection = connection
        self.response = response
        self.status: int = response.status
        self.content_type: str = response.getheader("content-type", "") or ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def whole(self) -> Response:
        """The rest of the body as a Response (for an error answer)."""
        try:
            body = self.response.read()
        except (OSError, ValueError, EOFError):
            body = b""
        return Response(self.status, body, self.content_type)

    def chunks(self, size: int = 65536) -> Iterator[bytes]:
        """The body's bytes as they come; ends when the server ends the response."""
        import http.client

        while True:
            try:
                data = self.response.read1(size)
            except TimeoutError:
                raise StreamLost("no data from the server (not even a heartbeat) in time") from None
            except (OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise StreamLost(f"connection lost: {reason}") from None
            if not data:
                return
            yield data

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_stream(
    url: str,
    *,
    token: str | None = None,
    params: dict[str, Any] | None = None,
    allow_self_signed: bool = False,
    timeout: float = TIMEOUT_SECONDS,
) -> Stream:
    """GET `url` for an event stream and return once the response headers are in.

    `timeout` bounds connecting and then each read: the server sends a heartbeat every 15 seconds, so a
    longer silence means the connection is gone. Raises ConnectionFailed when the server cannot be reached.
    """
    import http.client

    parts = urlsplit(url)
    target = _target(parts, params)
    headers = {**_headers(token, "text/event-stream"), "Cache-Control": "no-cache"}
    connection = _connection(parts, allow_self_signed, timeout)
    try:
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
    except http.client.HTTPException as exc:
        connection.close()
        raise _unreachable(parts, ValueError(f"bad HTTP response: {type(exc).__name__}")) from None
    except (OSError, ValueError) as exc:
        connection.close()
        raise _unreachable(parts, exc) from None
    return Stream(connection, response)
