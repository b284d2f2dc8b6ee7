"""The HTTP API: app factory, dependencies, envelopes, one router module per area."""
