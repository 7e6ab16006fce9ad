"""Realtime: the workspace's events as a Server-Sent Events stream."""
