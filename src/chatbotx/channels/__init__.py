"""Channel adapters: one module per channel (verify + parse inbound, send outbound, map provider errors)."""
