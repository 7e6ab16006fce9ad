"""Browser-facing assets served by the API process: the embeddable webchat widget."""
