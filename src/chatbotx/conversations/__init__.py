"""Conversations: the read side of the agent inbox (filters, keyset paging)."""
