"""Flows: the automation graphs a contact is sent through."""
