"""MCP tool definitions derived from the OpenAPI document: one tool per operation, pure functions only."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import mcp_types as types

log = logging.getLogger("chatbotx.mcp")

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Credentials are the transport's business, never tool arguments.
AUTH_PARAMS = frozenset(
    {"authorization", "x-workspace-token", "token", "workspace_token", "api_access_token"}
)
BODY_TYPES = ("application/json", "multipart/form-data", "application/x-www-form-urlencoded")
WHOLE_BODY_ARG = "body"
FILENAME_ARG = "filename"

QueryStyle = Literal["plain", "json"]


def tool_name(operation_id: str) -> str:
    """The operationId in snake_case; a run of capitals stays one word: listAIAgents -> list_aiagents."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", operation_id)
    return re.sub(r"[^A-Za-z0-9_]+", "_", snake).strip("_").lower()


@dataclass(frozen=True)
class ToolSpec:
    """One API operation as an MCP tool, plus what is needed to turn its arguments into an HTTP request."""

    name: str
    title: str
    description: str
    method: str
    path: str
    input_schema: dict[str, Any]
    path_params: tuple[str, ...] = ()
    query_params: Mapping[str, QueryStyle] = field(default_factory=dict)
    header_params: tuple[str, ...] = ()
    body_fields: Mapping[str, str] = field(default_factory=dict)  # argument name -> body key
    whole_body: bool = False  # the body is one argument named "body" (not an object with properties)
    body_type: str | None = None
    file_fields: frozenset[str] = frozenset()  # multipart parts sent as files (their text is the content)
    filename_arg: str | None = None  # names the uploaded file (not in the spec: a multipart part has a name)

    @property
    def arguments(self) -> frozenset[str]:
        return frozenset(self.input_schema.get("properties", {}))

    def to_mcp(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            annotations=annotations_for(self.method, self.title),
        )


def annotations_for(method: str, title: str) -> types.ToolAnnotations:
    method = method.upper()
    return types.ToolAnnotations(
        title=title,
        read_only_hint=method == "GET",
        destructive_hint=method == "DELETE",
        idempotent_hint=method in ("GET", "PUT", "DELETE"),
        open_world_hint=False,
    )


class _Resolver:
    """Inlines $refs of one document and drops the generator's auto titles; a cycle becomes a plain object."""

    def __init__(self, document: Mapping[str, Any]):
        self.document = document

    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            return {}
        node: Any = self.document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                return {}
            node = node[part]
        return node

    def object(self, node: Any) -> Any:
        """A non-schema object (a parameter, a request body) with its own $ref resolved."""
        seen: set[str] = set()
        while isinstance(node, Mapping) and "$ref" in node and node["$ref"] not in seen:
            seen.add(node["$ref"])
            node = self.lookup(node["$ref"])
        return node

    def schema(self, node: Any, stack: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.schema(item, stack) for item in node]
        if not isinstance(node, Mapping):
            return copy.deepcopy(node)
        if "$ref" in node:
            ref = node["$ref"]
            if ref in stack:
                out: dict[str, Any] = {"type": "object"}
            else:
                out = dict(self.schema(self.lookup(ref), (*stack, ref)))
            # Keywords next to a $ref (a description, a default) refine the target.
            out.update(self.schema({k: v for k, v in node.items() if k != "$ref"}, stack))
            return out
        result: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                continue
            if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(
                value, Mapping
            ):
                result[key] = {name: self.schema(sub, stack) for name, sub in value.items()}
            elif key in ("items", "additionalProperties", "not", "contains", "if", "then", "else"):
                result[key] = self.schema(value, stack)
            elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
                result[key] = [self.schema(item, stack) for item in value]
            else:
                result[key] = copy.deepcopy(value)
        return result


def _drop_null_branch(schema: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, null]` -> X for optional query parameters, where leaving it out already means null."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [b for b in branches if not (isinstance(b, Mapping) and b.get("type") == "null")]
    if len(kept) != 1 or len(kept) == len(branches):
        return schema
    merged = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **merged}


def _is_array(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "array":
        return True
    return any(isinstance(b, Mapping) and b.get("type") == "array" for b in schema.get("anyOf", ()))


def _is_binary(schema: Mapping[str, Any]) -> bool:
    if schema.get("format") == "binary" or "contentMediaType" in schema:
        return True
    return _is_array(schema) and isinstance(schema.get("items"), Mapping) and _is_binary(schema["items"])


def _describe(operation: Mapping[str, Any], method: str, path: str) -> tuple[str, str]:
    summary = str(operation.get("summary") or operation.get("operationId") or f"{method} {path}")
    description = str(operation.get("description") or summary)
    lines = [description, "", f"HTTP: {method.upper()} {path}"]
    if operation.get("x-cli-name"):
        lines.append(f"CLI: chatbotx {operation['x-cli-name']}")
    return summary, "\n".join(lines)


def _fallback_name(method: str, path: str) -> str:
    return tool_name(f"{method}_{path.replace('/api/v1/', '/')}")


def build_tool(
    resolver: _Resolver, path: str, method: str, operation: Mapping[str, Any], shared: list[Any]
) -> ToolSpec:
    name = (
        tool_name(str(operation["operationId"]))
        if operation.get("operationId")
        else _fallback_name(method, path)
    )
    title, description = _describe(operation, method, path)
    properties: dict[str, Any] = {}
    required: list[str] = []
    path_params: list[str] = []
    query_params: dict[str, QueryStyle] = {}
    header_params: list[str] = []

    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for raw in [
        *shared,
        *operation.get("parameters", []),
    ]:  # operation-level entries override path-level ones
        param = resolver.object(raw)
        if isinstance(param, Mapping) and "name" in param:
            merged[(str(param["name"]), str(param.get("in", "query")))] = param
    for (pname, location), param in merged.items():
        if pname.lower() in AUTH_PARAMS or location == "cookie":
            continue
        style: QueryStyle = "plain"
        if "schema" in param:
            schema = resolver.schema(param["schema"])
        else:  # `content: {application/json: {schema}}`: the value goes as JSON text
            content = param.get("content") or {}
            media: Any = next(iter(content.values()), {}) if isinstance(content, Mapping) else {}
            schema = resolver.schema(media.get("schema", {}))
            style = "json"
        if not param.get("required") and location != "path":
            schema = _drop_null_branch(schema)
        if param.get("description"):
            schema["description"] = param["description"]
        properties[pname] = schema
        if location == "path" or param.get("required"):
            required.append(pname)
        if location == "path":
            path_params.append(pname)
        elif location == "header":
            header_params.append(pname)
        else:
            query_params[pname] = style

    body_fields: dict[str, str] = {}
    whole_body = False
    body_type = None
    file_fields: set[str] = set()
    request_body = resolver.object(operation.get("requestBody"))
    if isinstance(request_body, Mapping) and isinstance(request_body.get("content"), Mapping):
        content = request_body["content"]
        body_type = next((t for t in BODY_TYPES if t in content), next(iter(content), None))
        body_schema = resolver.schema((content.get(body_type) or {}).get("schema", {})) if body_type else {}
        body_required = bool(request_body.get("required"))
        body_props = body_schema.get("properties") if isinstance(body_schema, Mapping) else None
        if isinstance(body_props, Mapping) and body_schema.get("type", "object") == "object":
            for key, schema in body_props.items():
                arg = key if key not in properties else f"body_{key}"
                properties[arg] = schema
                body_fields[arg] = key
                if body_required and key in body_schema.get("required", ()):
                    required.append(arg)
                if body_type == "multipart/form-data" and _is_binary(schema):
                    file_fields.add(arg)
                    schema["description"] = (
                        schema.get("description", "File") + " (pass the file's content as text)"
                    ).strip()
            if file_fields and FILENAME_ARG not in properties:
                properties[FILENAME_ARG] = {
                    "type": "string",
                    "maxLength": 255,
                    "description": "Name of the uploaded file, e.g. contacts.csv (gives its type)",
                }
        elif body_schema:
            whole_body = True
            properties[WHOLE_BODY_ARG] = body_schema
            if body_required:
                required.append(WHOLE_BODY_ARG)

    input_schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        input_schema["required"] = list(dict.fromkeys(required))
    return ToolSpec(
        name=name,
        title=title,
        description=description,
        method=method.upper(),
        path=path,
        input_schema=input_schema,
        path_params=tuple(path_params),
        query_params=query_params,
        header_params=tuple(header_params),
        body_fields=body_fields,
        whole_body=whole_body,
        body_type=body_type,
        file_fields=frozenset(file_fields),
        filename_arg=FILENAME_ARG if file_fields and FILENAME_ARG in properties else None,
    )


def _is_stream(resolver: _Resolver, operation: Mapping[str, Any]) -> bool:
    """An endless response (Server-Sent Events) cannot be a tool call: a call must return."""
    for response in (operation.get("responses") or {}).values():
        content = (resolver.object(response) or {}).get("content") or {}
        if "text/event-stream" in content:
            return True
    return False


def build_tools(document: Mapping[str, Any]) -> dict[str, ToolSpec]:
    """Every operation of the OpenAPI `document`, keyed by tool name, in document order."""
    resolver = _Resolver(document)
    tools: dict[str, ToolSpec] = {}
    for path, item in (document.get("paths") or {}).items():
        item = resolver.object(item)
        if not isinstance(item, Mapping):
            continue
        shared = list(item.get("parameters", []))
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, Mapping) or _is_stream(resolver, operation):
                continue
            tool = build_tool(resolver, str(path), method, operation, shared)
            if tool.name in tools:
                log.warning("MCP: two operations map to the tool name %r; keeping the first", tool.name)
                continue
            tools[tool.name] = tool
    return tools
