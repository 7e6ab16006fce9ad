"""A tiny HTTP server that serves an editable OpenAPI document and echoes every /api/v1 request back.

It lets the cache tests change the spec between runs (a new endpoint appearing) and count spec fetches, and
lets the request-building tests see exactly what the CLI sent.
"""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def _op(operation_id: str, cli: str, **extra: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": f"{operation_id} summary", "x-cli-name": cli, **extra}


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


BASE_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "fake", "version": "1"},
    "paths": {
        "/api/v1/things": {
            "get": _op(
                "listThings",
                "things list",
                parameters=[
                    {"name": "page", "in": "query", "schema": {"type": "integer"}, "description": "Page"},
                    {
                        "name": "channels",
                        "in": "query",
                        "schema": {
                            "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]
                        },
                    },
                    {"name": "botEnabled", "in": "query", "schema": {"type": "boolean"}},
                ],
            ),
            "post": _op(
                "createThing",
                "things create",
                requestBody=_json_body({"$ref": "#/components/schemas/ThingCreate"}),
            ),
        },
        "/api/v1/things/{idOrName}": {
            "put": _op(
                "setThing",
                "things update",
                parameters=[
                    {"name": "idOrName", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                requestBody=_json_body(
                    {
                        "type": "object",
                        "properties": {"value": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
                        "required": ["value"],
                    }
                ),
            ),
        },
        "/api/v1/things/bulk": {
            "put": _op(
                "setThings",
                "things update",
                requestBody=_json_body(
                    {
                        "type": "object",
                        "properties": {
                            "fields": {"type": "array", "items": {"$ref": "#/components/schemas/Pair"}}
                        },
                        "required": ["fields"],
                    }
                ),
            ),
        },
        "/api/v1/uploads": {
            "post": _op(
                "uploadThing",
                "things upload",
                requestBody={
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "label": {"type": "string"},
                                },
                                "required": ["file"],
                            }
                        }
                    },
                },
            )
        },
    },
    "components": {
        "schemas": {
            "ThingCreate": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "The name"},
                    "tagIds": {"type": "array", "items": {"type": "string"}},
                    "count": {"type": "integer"},
                    "active": {"type": "boolean"},
                    "meta": {"anyOf": [{"type": "object", "additionalProperties": True}, {"type": "null"}]},
                    "kind": {"type": "string", "enum": ["a", "b"]},
                },
                "required": ["name"],
            },
            "Pair": {"type": "object", "properties": {"id": {"type": "string"}, "value": {}}},
        }
    },
}


class FakeApi:
    def __init__(self) -> None:
        self.spec: dict[str, Any] = copy.deepcopy(BASE_SPEC)
        self.spec_fetches = 0
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/api/public-spec.json":
                    fake.spec_fetches += 1
                    self._reply(200, fake.spec)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                ctype = self.headers.get("Content-Type") or ""
                body: Any = raw.decode("latin-1")
                if "json" in ctype and raw:
                    body = json.loads(raw)
                record = {
                    "method": self.command,
                    "path": parts.path,
                    "rawPath": self.path,
                    "query": parse_qs(parts.query),
                    "contentType": ctype,
                    "body": body,
                    "auth": self.headers.get("Authorization"),
                }
                fake.requests.append(record)
                if parts.path.endswith("/missing"):
                    self._reply(
                        404, {"code": "NOT_FOUND", "status": 404, "message": "Thing not found.", "data": {}}
                    )
                    return
                self._reply(200, {"id": "1", **record})

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.stopped = False

    def __enter__(self) -> FakeApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()

    def __exit__(self, *exc: object) -> None:
        self.stop()
