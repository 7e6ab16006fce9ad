"""`python -m chatbotx.mcp` = `chatbotx mcp`."""

from chatbotx.mcp.cli import mcp_command

mcp_command(prog_name="chatbotx mcp")
