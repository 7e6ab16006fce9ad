"""Webhooks: outbound event subscriptions (their signing secrets are never shown)."""
