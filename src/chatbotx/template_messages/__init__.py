"""Template messages: provider-approved templates (WhatsApp) usable outside the 24-hour window."""
