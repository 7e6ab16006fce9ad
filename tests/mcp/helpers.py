"""What every MCP transport test does: call tools like an MCP client would, and check the server's state."""

from __future__ import annotations

import json
import uuid
from typing import Any, Protocol

import httpx
import mcp_types as types
from sqlalchemy.ext.asyncio import AsyncSession

from tests.mcp.seed import SEED_TOOLS

CHAIN_TOOLS = frozenset(
    {
        "create_tag",
        "create_contact",
        "add_contact_tags",
        "list_contact_tags",
        "remove_contact_tags",
        "create_custom_field",
        "set_contact_custom_field",
        "send_message",
    }
)


class ToolCaller(Protocol):
    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> Any: ...

    async def list_tools(self) -> types.ListToolsResult: ...


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def call_ok(client: ToolCaller, name: str, /, **arguments: Any) -> Any:
    result = await client.call_tool(name, arguments)
    assert isinstance(result, types.CallToolResult)
    assert not result.is_error, f"{name}: {text_of(result)}"
    text = text_of(result)
    return None if text.startswith("Done (HTTP") else json.loads(text)


async def call_error(client: ToolCaller, name: str, /, **arguments: Any) -> types.CallToolResult:
    result = await client.call_tool(name, arguments)
    assert isinstance(result, types.CallToolResult)
    assert result.is_error, f"{name} should have failed: {text_of(result)}"
    return result


async def tool_names(client: ToolCaller) -> set[str]:
    return {tool.name for tool in (await client.list_tools()).tools}


def is_stream(operation: dict[str, Any]) -> bool:
    """Server-Sent Events operations are not tools (a tool call must return)."""
    return any(
        "text/event-stream" in (r.get("content") or {}) for r in operation.get("responses", {}).values()
    )


def check_tool_list(tools: list[types.Tool], operation_ids: set[str]) -> None:
    """Every operation of the spec is a tool, with the hints of its method."""
    from chatbotx.mcp.tools import tool_name

    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == {tool_name(o) for o in operation_ids}
    for tool in tools:
        assert tool.input_schema["type"] == "object"
        assert tool.annotations is not None and tool.description
        http_line = next(line for line in tool.description.splitlines() if line.startswith("HTTP: "))
        method = http_line.split()[1]
        assert tool.annotations.read_only_hint is (method == "GET"), tool.name
        assert tool.annotations.destructive_hint is (method == "DELETE"), tool.name


def missing_seed_tools(names: set[str]) -> set[str]:
    return set(SEED_TOOLS - names)


async def add_inbox(session: AsyncSession, workspace_id: int | str) -> str:
    """A webchat inbox, inserted directly (sending a message needs one)."""
    from chatbotx.kit.db import commit
    from chatbotx.models import Inbox

    inbox = Inbox(workspace_id=int(workspace_id), name="Website", channel="webchat", config={})
    session.add(inbox)
    await session.flush()
    await commit(session)
    return str(inbox.id)


async def run_chain(client: ToolCaller, api: httpx.AsyncClient, inbox_id: str) -> dict[str, Any]:
    """Tag, contact, add the tag, list it, remove it, set a custom field, send a message; checks each step
    through the REST API with the same workspace's token."""
    suffix = uuid.uuid4().hex[:8]
    tag = await call_ok(client, "create_tag", name=f"vip-{suffix}")
    contact = await call_ok(client, "create_contact", email=f"ada-{suffix}@example.com", firstName="Ada")
    ident = f"id:{contact['id']}"

    assert await call_ok(client, "add_contact_tags", identifier=ident, tagIds=[tag["id"]]) is None
    listed = await call_ok(client, "list_contact_tags", identifier=ident)
    assert [t["id"] for t in listed] == [tag["id"]]
    assert [t["id"] for t in (await api.get(f"/api/v1/contacts/{ident}/tags")).json()] == [tag["id"]]

    # DELETE with a body: the tagIds must reach the server.
    assert await call_ok(client, "remove_contact_tags", identifier=ident, tagIds=[tag["id"]]) is None
    assert (await api.get(f"/api/v1/contacts/{ident}/tags")).json() == []

    field = await call_ok(client, "create_custom_field", name=f"plan-{suffix}", type="shortText")
    value = await call_ok(
        client, "set_contact_custom_field", identifier=ident, customFieldId=field["id"], value="premium"
    )
    assert value["value"] == "premium"
    stored = (await api.get(f"/api/v1/contacts/{ident}/custom-fields/{field['id']}")).json()
    assert stored["value"] == "premium"

    assert (
        await call_ok(client, "send_message", identifier=ident, text="Hello from MCP", inboxId=inbox_id)
        is None
    )
    messages = (await api.get(f"/api/v1/contacts/{ident}/messages")).json()["data"]
    assert [(m["content"], m["direction"]) for m in messages] == [("Hello from MCP", "outgoing")]
    return {"contact": contact, "tag": tag, "field": field}
