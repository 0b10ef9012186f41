"""Scan rule families, one module each; `engine.registry.load_all()` imports them so they
register."""
