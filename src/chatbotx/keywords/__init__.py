"""Keywords: automated replies matched against what a contact types."""
