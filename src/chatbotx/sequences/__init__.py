"""Sequences: timed series of flows a contact is enrolled in."""
