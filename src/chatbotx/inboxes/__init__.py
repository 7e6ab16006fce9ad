"""Inboxes, exposed as "channels": connected messaging channels, with their credentials encrypted at rest."""
