"""Rule families, one module each; `base.load_all()` imports them so they register."""
