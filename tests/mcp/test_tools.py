"""Tools from an OpenAPI document: names, input schemas, annotations and the HTTP requests they make."""

from __future__ import annotations

from typing import Any

import pytest

from chatbotx.mcp.api import ApiResult, request_parts, tool_result
from chatbotx.mcp.tools import build_tools, tool_name
from tests.mcp.seed import SEED_OPERATIONS


@pytest.mark.parametrize(("operation_id", "name"), [(o, n) for o, n, _, _ in SEED_OPERATIONS])
def test_seed_names(operation_id: str, name: str) -> None:
    assert tool_name(operation_id) == name


def test_runs_of_capitals_stay_one_word() -> None:
    assert tool_name("listAIAgents") == "list_aiagents"
    assert tool_name("getURLForID") == "get_urlfor_id"
    assert tool_name("bulkUpdateBotFields") == "bulk_update_bot_fields"
    assert tool_name("get2FACode") == "get2_facode"


REF = {"$ref": "#/components/schemas/TagIds"}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "paths": {
        "/api/v1/contacts/{identifier}/tags": {
            "parameters": [{"$ref": "#/components/parameters/Identifier"}],
            "get": {
                "operationId": "listContactTags",
                "summary": "List tags",
                "x-cli-name": "contacts tags list",
            },
            "delete": {
                "operationId": "removeContactTags",
                "summary": "Remove tags",
                "requestBody": {"required": True, "content": {"application/json": {"schema": REF}}},
            },
        },
        "/api/v1/things": {
            "get": {
                "operationId": "listThings",
                "summary": "List things",
                "parameters": [
                    {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                    {
                        "name": "keyword",
                        "in": "query",
                        "description": "Search text",
                        "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Keyword"},
                    },
                    {
                        "name": "filter",
                        "in": "query",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    {"name": "token", "in": "query", "schema": {"type": "string"}},
                    {"name": "page", "in": "query", "required": True, "schema": {"type": "integer"}},
                ],
            },
            "post": {
                "operationId": "createThing",
                "summary": "Create",
                "parameters": [{"name": "name", "in": "query", "schema": {"type": "string"}}],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Node"}},
                    }
                },
            },
            "put": {
                "operationId": "replaceThings",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "array", "items": {"type": "string"}}}
                    },
                },
            },
        },
        "/api/v1/files": {
            "post": {
                "operationId": "uploadFile",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "note": {"type": "string"},
                                },
                            }
                        }
                    },
                },
            }
        },
    },
    "components": {
        "parameters": {
            "Identifier": {
                "name": "identifier",
                "in": "path",
                "required": True,
                "description": "id:<id> or email:<address>",
                "schema": {"type": "string"},
            }
        },
        "schemas": {
            "TagIds": {
                "type": "object",
                "title": "TagIds",
                "required": ["tagIds"],
                "properties": {
                    "tagIds": {"type": "array", "items": {"type": "string"}, "description": "Tag ids"},
                    "title": {"type": "string", "title": "Title", "description": "A property named title"},
                },
            },
            "Node": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "child": {"$ref": "#/components/schemas/Node", "description": "A child node"},
                },
            },
        },
    },
}


def test_every_operation_is_a_tool_with_annotations() -> None:
    tools = build_tools(DOCUMENT)
    assert list(tools) == [
        "list_contact_tags",
        "remove_contact_tags",
        "list_things",
        "create_thing",
        "replace_things",
        "upload_file",
    ]
    listing = tools["list_contact_tags"].to_mcp()
    assert listing.annotations is not None
    assert listing.annotations.read_only_hint is True and listing.annotations.destructive_hint is False
    removal = tools["remove_contact_tags"].to_mcp()
    assert removal.annotations is not None
    assert removal.annotations.destructive_hint is True and removal.annotations.read_only_hint is False
    assert "CLI: chatbotx contacts tags list" in (listing.description or "")
    assert "DELETE /api/v1/contacts/{identifier}/tags" in (removal.description or "")


def test_schema_has_path_params_and_resolved_body() -> None:
    tool = build_tools(DOCUMENT)["remove_contact_tags"]
    schema = tool.input_schema
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["identifier", "tagIds"]
    assert schema["properties"]["identifier"] == {
        "type": "string",
        "description": "id:<id> or email:<address>",
    }
    assert schema["properties"]["tagIds"]["description"] == "Tag ids"
    # Auto titles go, a property that happens to be named "title" stays.
    assert schema["properties"]["title"] == {"type": "string", "description": "A property named title"}
    assert tool.body_fields == {"tagIds": "tagIds", "title": "title"}


def test_delete_sends_its_body() -> None:
    tool = build_tools(DOCUMENT)["remove_contact_tags"]
    parts = request_parts(tool, {"identifier": "email:a@b.co", "tagIds": ["1", "2"]})
    assert parts["path"] == "/api/v1/contacts/email%3Aa%40b.co/tags"
    assert parts["json_body"] == {"tagIds": ["1", "2"]}


def test_query_parameters() -> None:
    tool = build_tools(DOCUMENT)["list_things"]
    props = tool.input_schema["properties"]
    assert "token" not in props  # credentials are not arguments
    assert props["keyword"] == {"type": "string", "description": "Search text"}
    assert tool.input_schema["required"] == ["page"]
    parts = request_parts(tool, {"tags": ["a", "b"], "filter": {"x": 1}, "page": 2, "keyword": None})
    assert parts["params"] == [("tags", "a"), ("tags", "b"), ("filter", '{"x":1}'), ("page", "2")]
    assert "json_body" not in parts


def test_recursive_schema_and_name_collision() -> None:
    tool = build_tools(DOCUMENT)["create_thing"]
    props = tool.input_schema["properties"]
    # The query parameter keeps its name; the body property of the same name is renamed.
    assert set(props) == {"name", "body_name", "child"}
    assert "required" not in tool.input_schema  # the body itself is optional
    # Node.child is a Node again: the cycle is cut to a plain object, its description kept.
    assert props["child"] == {"type": "object", "description": "A child node"}
    parts = request_parts(tool, {"name": "q", "body_name": "b"})
    assert parts["params"] == [("name", "q")] and parts["json_body"] == {"name": "b"}


def test_non_object_body_is_one_argument() -> None:
    tool = build_tools(DOCUMENT)["replace_things"]
    assert tool.input_schema["required"] == ["body"]
    assert request_parts(tool, {"body": ["x"]})["json_body"] == ["x"]


def test_multipart_file_is_sent_as_a_file() -> None:
    tool = build_tools(DOCUMENT)["upload_file"]
    assert set(tool.input_schema["properties"]) == {"file", "note", "filename"}
    parts = request_parts(tool, {"file": "a,b\n1,2\n", "note": "hi", "filename": "people.csv"})
    assert parts["files"] == {"file": ("people.csv", b"a,b\n1,2\n", "text/csv")}
    assert parts["form"] == {"note": "hi"}
    unnamed = request_parts(tool, {"file": "x"})
    assert unnamed["files"] == {"file": ("upload.bin", b"x", "application/octet-stream")}


def test_results() -> None:
    ok = tool_result(ApiResult(200, {"id": "1"}))
    assert not ok.is_error and ok.structured_content == {"id": "1"}
    empty = tool_result(ApiResult(204, None))
    assert not empty.is_error and "204" in empty.content[0].text  # type: ignore[union-attr]
    error = tool_result(
        ApiResult(404, {"code": "NOT_FOUND", "status": 404, "message": "Contact not found", "data": {}})
    )
    assert error.is_error
    assert error.content[0].text == "NOT_FOUND (404): Contact not found"  # type: ignore[union-attr]
    assert error.structured_content["code"] == "NOT_FOUND"
    proxy = tool_result(ApiResult(502, "Bad gateway"))
    assert proxy.is_error and proxy.content[0].text == "HTTP_502 (502): Bad gateway"  # type: ignore[union-attr]


def test_event_streams_are_not_tools() -> None:
    document = {
        "openapi": "3.1.0",
        "paths": {
            "/api/v1/events": {
                "get": {
                    "operationId": "streamEvents",
                    "responses": {"200": {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
                }
            },
            "/api/v1/tags": {
                "get": {
                    "operationId": "listTags",
                    "responses": {"200": {"content": {"application/json": {"schema": {"type": "array"}}}}},
                }
            },
        },
    }
    assert list(build_tools(document)) == ["list_tags"]
