"""Helpers shared by the read-side list endpoints: optional paging, keyset cursors, redaction."""
