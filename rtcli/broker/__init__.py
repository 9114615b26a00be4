"""Brokers carry committed events to every node's hub: memory (default) or redis."""
