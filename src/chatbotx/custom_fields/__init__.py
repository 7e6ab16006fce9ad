"""Custom fields: typed per-contact attributes defined by the workspace."""
