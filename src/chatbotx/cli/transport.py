"""A small HTTP/1.1 client over a plain socket: one request per connection (`Connection: close`).

Why not httpx (~150 ms to import) or even http.client (~30 ms, it pulls in the email package): a CLI command
sends one request, and start-up time is most of what a user waits for.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

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
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionFailed(f"invalid API URL {url!r} (expected http(s)://host[:port]/api)")
    target = parts.path or "/"
    qs = "&".join(s for s in (parts.query, query_string(params or {})) if s)
    if qs:
        target += "?" + qs
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body: bytes | None = None
    if form is not None:
        body, headers["Content-Type"] = multipart(form)
    elif json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif method in ("POST", "PUT", "PATCH"):
        body = b""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in parts.hostname and parts.port is not None:  # IPv6 literal
        host_header = f"[{parts.hostname}]:{parts.port}"
    try:
        status, resp_headers, data = _exchange(
            parts.scheme, parts.hostname, port, allow_self_signed, timeout,
            _head(method, target, host_header, headers, body) + (body or b""),
        )  # fmt: skip
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConnectionFailed(f"cannot reach {parts.scheme}://{parts.netloc}: {reason}") from None
    return Response(status, data, resp_headers.get("content-type", ""))


def _head(method: str, target: str, host: str, headers: dict[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _exchange(
    scheme: str, host: str, port: int, allow_self_signed: bool, timeout: float, payload: bytes
) -> tuple[int, dict[str, str], bytes]:
    sock: socket.socket = socket.create_connection((host, port), timeout=timeout)
    try:
        if scheme == "https":
            import ssl

            context = ssl.create_default_context()
            if allow_self_signed:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=host)
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    return parse_response(b"".join(chunks))


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of a complete HTTP/1.1 response read until the server closed."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("incomplete HTTP response")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    status = int(parts[1])
    if status in (100, 103):  # an interim response precedes the real one
        return parse_response(body)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return status, headers, body


def _dechunk(data: bytes) -> bytes:
    out: list[bytes] = []
    pos = 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2
