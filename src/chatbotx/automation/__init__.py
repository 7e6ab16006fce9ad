"""The automation engine's pure pieces (keyword matching first; flows, triggers and sequences later)."""
