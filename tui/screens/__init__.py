"""Modal and full screens of the monitor."""
