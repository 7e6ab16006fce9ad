"""Workspace members: people (users) with a role (owner, admin, agent) in a workspace."""
