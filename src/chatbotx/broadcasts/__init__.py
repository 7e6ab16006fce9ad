"""Broadcasts: one message or flow sent to an audience of contacts."""
