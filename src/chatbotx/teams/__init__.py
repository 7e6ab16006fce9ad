"""Teams: named groups of members that conversations can be assigned to."""
