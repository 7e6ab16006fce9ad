"""Reads the OpenAPI document into plain operation records: what the command tree is built from.

Pure functions over the spec dict; no click here, so the logic is testable on a spec fixture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
PATH_PARAM = re.compile(r"{([^}]+)}")


@dataclass
class Field:
    """One input of an operation: a path parameter, a query parameter, a JSON body field or a form field."""

    name: str
    location: str  # "path" | "query" | "body" | "form"
    schema: dict[str, Any]
    required: bool = False
    description: str = ""

    @property
    def kind(self) -> str:
        return schema_kind(self.schema)

    @property
    def is_file(self) -> bool:
        return self.location == "form" and is_binary(self.schema)


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str
    cli_path: tuple[str, ...]
    summary: str = ""
    description: str = ""
    tag: str = ""
    path_params: list[Field] = field(default_factory=list)
    options: list[Field] = field(default_factory=list)
    body: str | None = None  # None | "json" | "form"
    body_required: bool = False
    free_body: bool = False  # a JSON body that is not an object of named fields: only --data can set it
    streaming: bool = False  # the success response is text/event-stream: printed event by event

    @property
    def help_text(self) -> str:
        text = self.summary or self.operation_id
        desc = self.description.strip()
        if desc and desc.rstrip(".") != text.rstrip("."):
            text += "\n\n" + desc
        return text


def resolve(spec: dict[str, Any], schema: Any, depth: int = 0) -> dict[str, Any]:
    """Follow $ref, unwrap nullable anyOf/oneOf and merge allOf, so callers see one plain schema."""
    if not isinstance(schema, dict) or depth > 20:
        return {}
    if "$ref" in schema:
        target: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        merged = {**resolve(spec, target, depth + 1), **{k: v for k, v in schema.items() if k != "$ref"}}
        return merged
    if "allOf" in schema:
        out: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        props: dict[str, Any] = {}
        required: list[str] = []
        for sub in schema["allOf"]:
            part = resolve(spec, sub, depth + 1)
            props.update(part.get("properties", {}))
            required.extend(part.get("required", []))
            out = {**part, **out}
        if props:
            out["properties"] = props
            out["required"] = required
        return out
    for key in ("anyOf", "oneOf"):
        if key in schema:
            variants = [resolve(spec, s, depth + 1) for s in schema[key]]
            non_null = [v for v in variants if v.get("type") != "null"]
            rest = {k: v for k, v in schema.items() if k != key}
            if len(non_null) == 1:
                return {**non_null[0], **rest, "nullable": True}
            return {**rest, "anyOf": non_null}
    if isinstance(schema.get("type"), list):
        types = [t for t in schema["type"] if t != "null"]
        if len(types) == 1:
            schema = {**schema, "type": types[0]}
    if isinstance(schema.get("items"), dict) and depth < 3:
        schema = {**schema, "items": resolve(spec, schema["items"], depth + 1)}
    return schema


def schema_kind(schema: dict[str, Any]) -> str:
    """string | integer | number | boolean | array | object | scalar (a union that includes string) | json."""
    kind = schema.get("type")
    if isinstance(kind, str) and kind != "null":
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    variants = schema.get("anyOf") or []
    kinds = {schema_kind(v) for v in variants}
    if "array" in kinds or "object" in kinds:
        return "json"
    if "string" in kinds:
        return "scalar"
    return "json"


def is_binary(schema: dict[str, Any]) -> bool:
    if schema.get("format") == "binary" or schema.get("contentMediaType") == "application/octet-stream":
        return True
    items = schema.get("items")
    return isinstance(items, dict) and schema.get("type") == "array" and is_binary(items)


def kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name).replace("_", "-").lower()


def cli_path_of(raw: dict[str, Any], operation_id: str, tags: list[str]) -> tuple[str, ...]:
    """x-cli-name when the server declares one; else "<first tag> <operationId>" in kebab case."""
    name = raw.get("x-cli-name")
    if isinstance(name, str) and name.split():
        return tuple(name.split())
    group = kebab(tags[0].replace(" ", "-")) if tags else "api"
    return (group, kebab(operation_id))


def _params(spec: dict[str, Any], path_item: dict[str, Any], raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Path-level and operation-level parameters, the latter overriding by (in, name)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for p in [*path_item.get("parameters", []), *raw.get("parameters", [])]:
        p = resolve(spec, p)
        if "name" in p and "in" in p:
            merged[(p["in"], p["name"])] = p
    return list(merged.values())


def _body_fields(spec: dict[str, Any], op: Operation, raw: dict[str, Any]) -> None:
    body = resolve(spec, raw.get("requestBody"))
    content = body.get("content") or {}
    op.body_required = bool(body.get("required"))
    if "multipart/form-data" in content or "application/x-www-form-urlencoded" in content:
        op.body, location = "form", "form"
        media = content.get("multipart/form-data") or content["application/x-www-form-urlencoded"]
    elif content:
        op.body, location = "json", "body"
        media = content.get("application/json") or next(iter(content.values()))
    else:
        return
    schema = resolve(spec, media.get("schema"))
    props = schema.get("properties")
    if not isinstance(props, dict) or not props:
        op.free_body = location == "body"
        return
    required = set(schema.get("required", []))
    taken = {f.name for f in op.path_params} | {f.name for f in op.options}
    for name, prop in props.items():
        if name in taken or (isinstance(prop, dict) and prop.get("readOnly")):
            continue
        resolved = resolve(spec, prop)
        description = resolved.get("description") or prop.get("description") or ""
        op.options.append(Field(name, location, resolved, name in required, description))


def is_event_stream(spec: dict[str, Any], raw: dict[str, Any]) -> bool:
    """Whether the operation's success (2xx) response is a Server-Sent Events stream."""
    for code, response in (raw.get("responses") or {}).items():
        if str(code).startswith("2"):
            content = resolve(spec, response).get("content") or {}
            if any(str(media).split(";")[0].strip() == "text/event-stream" for media in content):
                return True
    return False


def parse_operations(spec: dict[str, Any], group: str | None = None) -> list[Operation]:
    """Every operation, or only those whose command starts with `group` (what one command needs)."""
    ops: list[Operation] = []
    for path, path_item in (spec.get("paths") or {}).items():
        if not isinstance(path_item, dict):
            continue
        for method in HTTP_METHODS:
            raw = path_item.get(method)
            if not isinstance(raw, dict) or raw.get("x-cli-hidden"):
                continue
            operation_id = raw.get("operationId") or kebab(f"{method}-{path.strip('/').replace('/', '-')}")
            cli_path = cli_path_of(raw, operation_id, raw.get("tags") or [])
            if group is not None and cli_path[0] != group:
                continue
            op = Operation(
                operation_id=operation_id,
                method=method.upper(),
                path=path,
                cli_path=cli_path,
                summary=raw.get("summary") or "",
                description=raw.get("description") or "",
                tag=(raw.get("tags") or [""])[0],
                streaming=is_event_stream(spec, raw),
            )
            params = _params(spec, path_item, raw)
            by_name = {p["name"]: p for p in params if p["in"] == "path"}
            for name in PATH_PARAM.findall(path):
                p = by_name.get(name, {})
                schema = resolve(spec, p.get("schema"))
                desc = p.get("description") or schema.get("description") or ""
                op.path_params.append(Field(name, "path", schema, True, desc))
            for p in params:
                if p["in"] == "query":
                    schema = resolve(spec, p.get("schema"))
                    desc = p.get("description") or schema.get("description") or ""
                    op.options.append(Field(p["name"], "query", schema, bool(p.get("required")), desc))
            _body_fields(spec, op, raw)
            ops.append(op)
    return ops


def build_tree(ops: list[Operation]) -> dict[str, Any]:
    """Nested dict of command words; a leaf is a list of operations (several when they share a name)."""
    tree: dict[str, Any] = {}
    for op in ops:
        node = tree
        for word in op.cli_path[:-1]:
            child = node.setdefault(word, {})
            if isinstance(child, list):  # a command and a group with the same name: the group wins
                node[word] = child = {kebab(o.operation_id): [o] for o in child}
            node = child
        leaf = op.cli_path[-1]
        existing = node.get(leaf)
        if isinstance(existing, dict):
            existing[kebab(op.operation_id)] = [op]
        else:
            node.setdefault(leaf, []).append(op)
    return tree
