"""API keys (hashed at rest) and the principals they authenticate."""
