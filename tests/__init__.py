"""The tests, a package so that tests/engine/ and tests/tui/ may hold modules of one name (test_insight.py)."""
