"""The MCP server: one tool per API operation, generated from the live OpenAPI document."""
