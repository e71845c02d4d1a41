"""First-party hromada plugins."""
