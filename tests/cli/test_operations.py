"""The spec reader, without a server: $ref/anyOf/allOf resolution, field kinds, command paths and merging."""

from __future__ import annotations

import copy

from chatbotx.cli.config import normalize_api_url
from chatbotx.cli.operations import build_tree, kebab, parse_operations, resolve, schema_kind
from chatbotx.cli.spec import operation_url
from chatbotx.cli.transport import query_string
from tests.cli.fake_api import BASE_SPEC


def test_resolve_follows_refs_and_unwraps_nullable() -> None:
    spec = {"components": {"schemas": {"A": {"type": "object", "properties": {"x": {"type": "string"}}}}}}
    assert resolve(spec, {"$ref": "#/components/schemas/A"})["properties"] == {"x": {"type": "string"}}
    nullable = resolve(spec, {"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}]})
    assert nullable["type"] == "object" and nullable["nullable"] is True
    merged = resolve(spec, {"allOf": [{"$ref": "#/components/schemas/A"}, {"properties": {"y": {}}}]})
    assert set(merged["properties"]) == {"x", "y"}
    assert resolve(spec, {"type": ["integer", "null"]})["type"] == "integer"


def test_schema_kinds() -> None:
    assert schema_kind({"type": "array"}) == "array"
    assert schema_kind({"anyOf": [{"type": "string"}, {"type": "number"}]}) == "scalar"
    assert schema_kind({"anyOf": [{"type": "integer"}, {"type": "boolean"}]}) == "json"
    assert schema_kind({"additionalProperties": True}) == "object"


def test_operations_and_tree() -> None:
    ops = {op.operation_id: op for op in parse_operations(BASE_SPEC)}
    create = ops["createThing"]
    assert create.cli_path == ("things", "create") and create.body == "json"
    assert {f.name: f.kind for f in create.options} == {
        "name": "string", "tagIds": "array", "count": "integer", "active": "boolean", "meta": "object",
        "kind": "string",
    }  # fmt: skip
    assert [f.name for f in create.options if f.required] == ["name"]
    assert [p.name for p in ops["setThing"].path_params] == ["idOrName"]
    assert ops["uploadThing"].body == "form" and ops["uploadThing"].options[0].is_file
    assert ops["setThings"].options[0].schema["items"]["type"] == "object"  # items $ref resolved
    tree = build_tree(list(ops.values()))
    assert sorted(tree["things"]) == ["create", "list", "update", "upload"]
    assert [o.operation_id for o in tree["things"]["update"]] == ["setThing", "setThings"]
    assert [o.operation_id for o in parse_operations(BASE_SPEC, "nothing")] == []


def test_missing_cli_name_falls_back_to_tag_and_operation_id() -> None:
    spec = copy.deepcopy(BASE_SPEC)
    spec["paths"]["/api/v1/x"] = {"get": {"operationId": "listXThings", "tags": ["Saved Replies"]}}
    op = next(o for o in parse_operations(spec) if o.operation_id == "listXThings")
    assert op.cli_path == ("saved-replies", "list-xthings")
    assert kebab("listAIAgents") == "list-aiagents"


def test_urls_join_for_both_api_url_forms() -> None:
    for base in ("http://h:8000", "http://h:8000/", "http://h:8000/api", "http://h:8000/api/"):
        assert normalize_api_url(base) == "http://h:8000/api"
        assert operation_url(base, "/api/v1/tags") == "http://h:8000/api/v1/tags"
    assert operation_url("https://e.com/p/api", "/api/v1/tags") == "https://e.com/p/api/v1/tags"


def test_query_string() -> None:
    assert query_string({"a": [1, 2], "b": True, "c": None, "s": [{"id": "x"}]}) == (
        "a=1&a=2&b=true&s=%5B%7B%22id%22%3A%22x%22%7D%5D"
    )
