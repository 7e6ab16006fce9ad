"""Shared infrastructure: database, ids, errors, pagination, security, jobs."""
