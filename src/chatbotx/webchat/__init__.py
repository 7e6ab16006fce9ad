"""Website webchat: the public Client API (Chatwoot shape), visitors, realtime stream, abuse limits."""
