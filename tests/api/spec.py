"""The app's own OpenAPI document, read at collection time so every operation gets its own test ids."""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from pathlib import Path
from typing import Any

from chatbotx.app import create_app
from chatbotx.settings import Settings

API_PREFIX = "/api/v1/"
METHODS = ("get", "put", "post", "delete", "patch")


@dataclasses.dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    path_params: tuple[str, ...]
    body_schema: dict[str, Any] | None
    body_media_type: str | None
    success: int

    @property
    def id(self) -> str:
        return self.operation_id


@functools.cache
def openapi() -> dict[str, Any]:
    """The document as the app generates it (no database needed to build it)."""
    data_dir = Path(tempfile.gettempdir()) / "chatbotx-spec"
    return create_app(Settings(data_dir=data_dir, rate_limit_per_minute=0)).openapi()


def resolve(schema: dict[str, Any], doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """`schema` with a top-level $ref followed (one level; enough for request bodies)."""
    doc = doc or openapi()
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


@functools.cache
def operations() -> tuple[Operation, ...]:
    """Every /api/v1 operation of the document, in path order."""
    found = []
    for path, item in sorted(openapi()["paths"].items()):
        if not path.startswith(API_PREFIX):
            continue
        for method in METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            params = tuple(p["name"] for p in spec.get("parameters", []) if p["in"] == "path")
            content = spec.get("requestBody", {}).get("content", {})
            media_type = next(iter(content), None)
            body = resolve(content[media_type]["schema"]) if media_type else None
            success = min(int(code) for code in spec["responses"] if code.isdigit() and code.startswith("2"))
            found.append(
                Operation(spec["operationId"], method.upper(), path, params, body, media_type, success)
            )
    return tuple(found)
