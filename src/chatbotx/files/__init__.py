"""Stored files: uploads kept on disk under the data directory, one folder per workspace."""
