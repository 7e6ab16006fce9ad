"""Error logs: failures a workspace should see (delivery errors, webhook failures, flow errors)."""
