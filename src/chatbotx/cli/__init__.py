"""The `chatbotx` command: server administration, and client commands generated from the OpenAPI document."""
