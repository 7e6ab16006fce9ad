"""Saved replies: canned answers agents insert by typing their shortcut."""
