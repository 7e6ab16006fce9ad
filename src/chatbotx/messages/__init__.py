"""A contact's messages, and sending to a contact (message, flow, keyword auto-reply)."""
