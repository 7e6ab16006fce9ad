"""Triggers: event -> conditions -> actions rules."""
