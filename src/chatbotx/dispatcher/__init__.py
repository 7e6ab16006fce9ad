"""Outbound delivery: the dispatcher claims queued messages, rate-limits them and sends them via adapters."""
