"""Tests of the tui package (the Textual app)."""
