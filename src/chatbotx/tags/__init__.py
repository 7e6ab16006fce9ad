"""Tags: labels put on contacts."""
