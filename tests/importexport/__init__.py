"""Import and export tests."""
