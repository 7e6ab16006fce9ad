"""Workspaces: creation (with an owner and a first token), tokens, and the workspace endpoint."""
