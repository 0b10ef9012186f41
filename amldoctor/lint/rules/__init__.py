"""The `scope="lint"` rules (AMD8xx), one module per concern; `engine.registry.load_all()`
imports them so they register."""
