"""`chatbotx mcp`: the MCP server over stdio (default) or standalone over HTTP (SSE and streamable HTTP)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

TRANSPORTS = ("stdio", "sse", "http")
log = logging.getLogger("chatbotx.mcp")


@click.command("mcp")
@click.option(
    "--transport",
    type=click.Choice(TRANSPORTS),
    envvar="CHATBOTX_MCP_TRANSPORT",
    default="stdio",
    show_default=True,
    help="stdio for a local MCP client; sse or http serve /sse and /mcp on --host:--port.",
)
@click.option("--host", envvar="CHATBOTX_MCP_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="CHATBOTX_MCP_PORT", default=3333, show_default=True, type=int)
@click.option("--api-key", "--apiKey", "api_key", help="Workspace token (stdio; default CHATBOTX_API_KEY).")
@click.option("--api-url", "--apiUrl", "api_url", help="API base URL (default CHATBOTX_API_URL).")
def mcp_command(transport: str, host: str, port: int, api_key: str | None, api_url: str | None) -> None:
    """Run the ChatbotX MCP server: one tool per API operation, generated from the server's OpenAPI document.

    Over stdio the token comes from CHATBOTX_API_KEY (or the saved config); over HTTP each caller sends its
    own token (x-workspace-token, Authorization: Bearer or ?token=).
    """
    from chatbotx.cli.config import resolve

    root = click.get_current_context().find_root().params  # `chatbotx --apiKey ... mcp` works too
    config = resolve(api_key or root.get("api_key"), api_url or root.get("api_url"))
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if transport == "stdio":
        import anyio

        anyio.run(serve_stdio, config.api_url, config.api_key, not config.allow_self_signed)
        return
    import uvicorn

    from chatbotx.mcp.http import MESSAGES_PATH, SSE_PATH, STREAMABLE_PATH, standalone_app

    app = standalone_app(config.api_url, verify_tls=not config.allow_self_signed)
    base = f"http://{host}:{port}"
    click.echo(f"ChatbotX MCP server for the API at {config.api_url}", err=True)
    click.echo(f"  SSE:             {base}{SSE_PATH} (messages at {MESSAGES_PATH})", err=True)
    click.echo(f"  streamable HTTP: {base}{STREAMABLE_PATH}", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


async def serve_stdio(api_url: str, api_key: str | None, verify_tls: bool = True) -> None:
    """Serve one MCP client on stdin/stdout; everything else goes to stderr."""
    from mcp.server.stdio import stdio_server

    from chatbotx.mcp.api import ApiClient, SpecUnavailable
    from chatbotx.mcp.server import Catalog, build_server

    api = ApiClient(api_url, verify=verify_tls)
    catalog = Catalog(api)
    if not api_key:
        log.warning("No workspace token: set CHATBOTX_API_KEY or run `chatbotx config set --apiKey <token>`.")
    try:
        log.info("MCP: %d tools from %s", len(await catalog.tools()), api.api_base)
    except SpecUnavailable as exc:
        log.error("MCP: %s; will retry when the client lists the tools.", exc)

    def token_of(_ctx: Any) -> str | None:
        return api_key

    server = build_server(catalog, token_of)
    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        await api.aclose()
