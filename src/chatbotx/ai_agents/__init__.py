"""AI agents: model-backed replies used when no keyword or flow answers."""
