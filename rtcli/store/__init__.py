"""Storage adapters: sqlite (default, one file) and postgres (several nodes)."""
