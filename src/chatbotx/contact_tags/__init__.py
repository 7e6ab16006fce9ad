"""Tags on a contact: /api/v1/contacts/{identifier}/tags."""
