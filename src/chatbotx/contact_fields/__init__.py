"""Custom field values on a contact: /api/v1/contacts/{identifier}/custom-fields."""
