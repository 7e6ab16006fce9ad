"""Integrations: connected third-party services (their credentials are never shown)."""
