"""Compute: the driver port and the drivers behind it."""
