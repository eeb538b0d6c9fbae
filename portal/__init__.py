"""The member-facing mobile site (the portal issue fills it)."""
