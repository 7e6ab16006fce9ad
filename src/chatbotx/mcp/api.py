"""The MCP side of the ChatbotX API: fetches the OpenAPI document and turns a tool call into a request."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import mcp_types as types

from chatbotx.mcp.tools import WHOLE_BODY_ARG, ToolSpec

SPEC_PATHS = ("/public-spec.json", "/openapi.json")
TIMEOUT_SECONDS = 60.0
TOKEN_HINT = (
    "Check the workspace token: CHATBOTX_API_KEY (or `chatbotx config set --apiKey`) for stdio, "
    "the x-workspace-token / Authorization header or ?token= for HTTP."
)


class SpecUnavailable(Exception):
    """The OpenAPI document could not be fetched or parsed."""


def split_api_url(api_url: str) -> tuple[str, str]:
    """(api base ending in /api, server root): the spec's paths (/api/v1/...) are relative to the root."""
    base = api_url.strip().rstrip("/")
    if not base.endswith("/api"):
        base += "/api"
    return base, base[: -len("/api")]


@dataclass
class ApiResult:
    status: int
    data: Any  # parsed JSON, text, or None for an empty body


class ApiClient:
    """One pooled HTTP client for all callers; each request carries its caller's token."""

    def __init__(
        self,
        api_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool = True,
        timeout: float = TIMEOUT_SECONDS,
    ):
        self.api_base, self.root = split_api_url(api_url)
        self._client = httpx.AsyncClient(
            base_url=self.root,
            transport=transport,
            verify=verify,
            timeout=timeout,
            headers={"user-agent": "chatbotx-mcp"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch_spec(self) -> dict[str, Any]:
        errors = []
        for suffix in SPEC_PATHS:
            url = self.api_base + suffix
            try:
                response = await self._client.get(url)
            except httpx.HTTPError as exc:
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
                continue
            if response.status_code == 200:
                try:
                    document = response.json()
                except ValueError:
                    errors.append(f"{url}: not JSON")
                    continue
                if isinstance(document, dict) and isinstance(document.get("paths"), dict):
                    return document
                errors.append(f"{url}: not an OpenAPI document")
            else:
                errors.append(f"{url}: HTTP {response.status_code}")
        raise SpecUnavailable("Cannot load the ChatbotX OpenAPI document (" + "; ".join(errors) + ")")

    async def request(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> ApiResult:
        kwargs: dict[str, Any] = {
            "params": params,
            "headers": {**(headers or {}), "authorization": f"Bearer {token}"},
        }
        if files is not None:
            kwargs.update(data=form or {}, files=files)
        elif form is not None:
            kwargs["data"] = form
        elif json_body is not None:
            kwargs["json"] = json_body
        response = await self._client.request(method, path, **kwargs)
        return ApiResult(response.status_code, _parse_body(response))

    async def token_is_valid(self, token: str) -> bool:
        """True unless the API answers 401 (a 403 still means a real token, with fewer scopes)."""
        result = await self.request("GET", "/api/v1/workspaces", token)
        return result.status != 401

    async def call_tool(
        self, tool: ToolSpec, arguments: Mapping[str, Any], token: str | None
    ) -> types.CallToolResult:
        if not token:
            return error_result("UNAUTHORIZED", 401, "No workspace token. " + TOKEN_HINT)
        unknown = sorted(set(arguments) - tool.arguments)
        if unknown:
            expected = ", ".join(sorted(tool.arguments)) or "none"
            return error_result(
                "INVALID_ARGUMENTS", 400, f"Unknown argument(s) {', '.join(unknown)}; expected: {expected}."
            )
        missing = [p for p in tool.input_schema.get("required", ()) if arguments.get(p) is None]
        if missing:
            return error_result(
                "INVALID_ARGUMENTS", 400, f"Missing required argument(s): {', '.join(missing)}."
            )
        try:
            result = await self.request(tool.method, token=token, **request_parts(tool, arguments))
        except httpx.HTTPError as exc:
            return error_result(
                "API_UNREACHABLE", 502, f"Cannot reach the ChatbotX API at {self.root}: {exc!r}"
            )
        return tool_result(result)


def _parse_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            pass
    return response.text


def _query_value(value: Any, style: str) -> list[str]:
    if value is None:
        return []
    if style == "json" or isinstance(value, dict):
        return [value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))]
    if isinstance(value, list):
        # Arrays go as repeated parameters (?tags=1&tags=2); nested structures as JSON.
        return [item if isinstance(item, str) else _scalar(item) for item in value if item is not None]
    return [_scalar(value)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def request_parts(tool: ToolSpec, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The path, query, headers and body of the HTTP request for a tool call (arguments already checked)."""
    path = tool.path
    for name in tool.path_params:
        path = path.replace("{" + name + "}", quote(_scalar(arguments[name]), safe=""))
    params = [
        (name, v)
        for name, style in tool.query_params.items()
        for v in _query_value(arguments.get(name), style)
    ]
    headers = {
        name: _scalar(arguments[name]) for name in tool.header_params if arguments.get(name) is not None
    }
    parts: dict[str, Any] = {"path": path, "params": params, "headers": headers}
    if tool.whole_body:
        if WHOLE_BODY_ARG in arguments:
            parts["json_body"] = arguments[WHOLE_BODY_ARG]
    elif tool.body_fields:
        body = {key: arguments[arg] for arg, key in tool.body_fields.items() if arg in arguments}
        if tool.body_type == "multipart/form-data":
            name = str(arguments.get(tool.filename_arg or "") or "upload.bin")
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            files = {
                tool.body_fields[a]: (name, _as_bytes(arguments[a]), content_type)
                for a in tool.file_fields
                if a in arguments
            }
            parts["files"] = files
            parts["form"] = {k: _scalar(v) for k, v in body.items() if k not in files}
        elif tool.body_type == "application/x-www-form-urlencoded":
            parts["form"] = {k: _scalar(v) for k, v in body.items()}
        else:
            # Sent for every method, DELETE included (remove_contact_tags needs its tagIds).
            parts["json_body"] = body
    return parts


def _as_bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else _scalar(value).encode()


def _text(data: Any) -> str:
    return data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def error_result(code: str, status: int, message: str, data: Any = None) -> types.CallToolResult:
    body = {"code": code, "status": status, "message": message, "data": data or {}}
    text = f"{code} ({status}): {message}"
    if data:
        text += "\n" + _text(data)
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=body, is_error=True
    )


def tool_result(result: ApiResult) -> types.CallToolResult:
    if 200 <= result.status < 300:
        if result.data is None:
            text = f"Done (HTTP {result.status}, no content)."
            return types.CallToolResult(content=[types.TextContent(text=text)])
        structured = result.data if isinstance(result.data, dict) else None
        return types.CallToolResult(
            content=[types.TextContent(text=_text(result.data))], structured_content=structured
        )
    data = result.data if isinstance(result.data, dict) else {}
    code = str(data.get("code") or f"HTTP_{result.status}")
    message = str(
        data.get("message") or (result.data if isinstance(result.data, str) else "") or "Request failed."
    )
    if result.status == 401:
        message = f"{message} {TOKEN_HINT}"
    return error_result(code, result.status, message, data.get("data"))
