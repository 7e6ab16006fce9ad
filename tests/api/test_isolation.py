"""Workspace isolation: every operation taking an id, called from workspace A with B's ids, is a 404.

The operations come from the OpenAPI document, so new ones are covered as they land. Each id parameter is
tried alone (the others are A's own) and all together, in every form it accepts (id:, bare id, email:, phone:,
name). B's rows must be unchanged afterwards, and a control call with A's own ids must succeed (the route is
real and the body valid).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Table, select

from chatbotx.kit import db
from chatbotx.kit.db import Base
from tests.api import resources
from tests.api.resources import Seeded
from tests.api.spec import Operation, operations, resolve
from tests.conftest import Tenant

ID_OPERATIONS = [op for op in operations() if op.path_params]

# Bodies the minimal schema-derived one would not make valid (A's own ids where a body names resources).
BODIES: dict[str, Callable[[Seeded], Any]] = {
    "setContactCustomFields": lambda a: {"fields": [{"id": str(a.ids["custom_field"]), "value": "red"}]},
    "sendMessage": lambda a: {"text": "hello"},
    "setBotField": lambda a: {"value": "x"},
    "setContactCustomField": lambda a: {"value": "x"},
    "triggerAutoReply": lambda a: {"keyword": "hi"},  # the seeded keyword's phrase
    "replyToConversation": lambda a: {"text": "hello"},
    "assignConversation": lambda a: {"assigneeId": str(a.ids["member"]), "teamId": str(a.ids["team"])},
}
# Upserts by email:/phone: create the contact in A when A has none: only their id forms must be a 404.
UPSERTS = {"upsertContact"}
ID_PATTERN = "^[0-9]{1,19}$"


def _camel_to_kind(name: str) -> str:
    stem = re.sub(r"Ids?$", "", name)
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()
    return {"file": "stored_file", "assigned": "member", "assignee": "member"}.get(snake, snake)


def minimal_value(schema: dict[str, Any], name: str, a: Seeded) -> Any:
    """The smallest valid value for `schema` (ids named like `tagIds`/`flowId` are A's own)."""
    schema = resolve(schema)
    if "anyOf" in schema or "oneOf" in schema:
        options = [s for s in schema.get("anyOf", schema.get("oneOf", [])) if s.get("type") != "null"]
        return minimal_value(options[0], name, a) if options else None
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {key: minimal_value(props.get(key, {}), key, a) for key in schema.get("required", [])}
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [minimal_value(schema.get("items", {}), name, a) for _ in range(count)]
    if kind == "string":
        if schema.get("pattern") == ID_PATTERN:
            return str(a.ids.get(_camel_to_kind(name), 1))
        if "enum" in schema:
            return schema["enum"][0]
        if schema.get("format") == "email" or name == "email":
            return "someone@example.com"
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    return None


def request_body(op: Operation, a: Seeded) -> Any:
    if op.body_schema is None:
        return None
    if op.operation_id in BODIES:
        return BODIES[op.operation_id](a)
    return minimal_value(op.body_schema, "body", a)


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(value, safe=":@+"))
    return path


async def call(client: httpx.AsyncClient, op: Operation, path: str, body: Any) -> httpx.Response:
    if op.body_media_type == "application/json":
        return await client.request(op.method, path, json=body)
    if op.body_media_type and op.body_media_type.startswith("multipart/"):
        return await client.request(op.method, path, files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")})
    return await client.request(op.method, path)


async def snapshot(workspace_id: int) -> dict[str, list[tuple[str, ...]]]:
    """Every row that belongs to the workspace, directly or through a parent row, as sorted text tuples."""
    tables = Base.metadata.sorted_tables
    owned = {t.name for t in tables if "workspace_id" in t.c}
    out: dict[str, list[tuple[str, ...]]] = {}
    async with db.get_database().sessionmaker() as session:
        for table in tables:
            stmt = _owned_rows(table, owned, workspace_id)
            if stmt is None:
                continue
            rows = (await session.execute(stmt)).all()
            out[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def _owned_rows(table: Table, owned: set[str], workspace_id: int) -> Any:
    if table.name == "workspace":
        return select(table).where(table.c.id == workspace_id)
    if table.name in owned:
        return select(table).where(table.c.workspace_id == workspace_id)
    for fk in table.foreign_keys:  # a child of a workspace-owned row
        parent = fk.column.table
        if parent.name in owned:
            ids = select(parent.c.id).where(parent.c.workspace_id == workspace_id)
            return select(table).where(fk.parent.in_(ids))
    for other in Base.metadata.sorted_tables:  # a row a workspace-owned row points at (user accounts)
        if other.name in owned:
            for fk in other.foreign_keys:
                if fk.column.table is table:
                    ids = select(fk.parent).where(other.c.workspace_id == workspace_id)
                    return select(table).where(fk.column.in_(ids))
    return None


def test_every_id_parameter_is_mapped() -> None:
    """A new id-taking endpoint must say which resource its parameter names (tests/api/resources.py)."""
    unmapped = [
        f"{op.method} {op.path} {{{param}}}"
        for op in ID_OPERATIONS
        for param in op.path_params
        if resources.param_kind(op.path, param) is None
    ]
    assert not unmapped, f"map these in tests/api/resources.py (SEGMENT_KIND / PARAM_OVERRIDES): {unmapped}"


@pytest.mark.parametrize("operation_id", [op.operation_id for op in ID_OPERATIONS])
async def test_other_workspace_ids_are_404(tenant: Tenant, other_tenant: Tenant, operation_id: str) -> None:
    op = next(o for o in ID_OPERATIONS if o.operation_id == operation_id)
    kinds = {param: resources.param_kind(op.path, param) for param in op.path_params}
    assert all(kinds.values()), f"unmapped path parameter in {op.path}: {kinds}"
    a = await resources.seed_workspace(int(tenant.workspace_id))
    b = await resources.seed_workspace(int(other_tenant.workspace_id))
    own = {p: resources.values_for(str(k), p, a)[0] for p, k in kinds.items()}
    body = request_body(op, a)
    before = await snapshot(b.workspace_id)

    attempts: list[dict[str, str]] = []
    for param, kind in kinds.items():
        for value in resources.values_for(str(kind), param, b):
            attempts.append({**own, param: value})
    if len(kinds) > 1:
        attempts.append({p: resources.values_for(str(k), p, b)[0] for p, k in kinds.items()})
    for values in attempts:
        path = fill(op.path, values)
        response = await call(tenant.client, op, path, body)
        if operation_id in UPSERTS and values["identifier"].startswith(("email:", "phone:")):
            assert response.status_code < 400, response.text
            assert response.json()["id"] != str(b.ids["contact"]), f"{path} returned B's contact"
            continue
        assert response.status_code == 404, (
            f"{op.method} {path} (B's ids from A) -> {response.status_code} {response.text}"
        )
        assert response.json()["code"] == "NOT_FOUND", response.text

    assert await snapshot(b.workspace_id) == before, f"{operation_id} changed workspace B's data"

    control = await call(tenant.client, op, fill(op.path, own), body)
    assert control.status_code < 400, (
        f"control call with A's own ids: {op.method} {fill(op.path, own)} body={body!r} -> "
        f"{control.status_code} {control.text} (fix the body in BODIES if it is the body)"
    )
