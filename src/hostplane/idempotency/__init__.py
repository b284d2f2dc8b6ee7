"""Idempotency-Key replay: the same key on the same route returns the first result."""
