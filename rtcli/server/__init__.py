"""HTTP and WebSocket adapters, and the composition root (app.py)."""
