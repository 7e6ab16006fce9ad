"""Bot fields: typed values global to the workspace (not per contact), usable in flows and templates."""
