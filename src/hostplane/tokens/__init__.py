"""Browser tokens: short-lived, scoped JWS credentials an organization's backend mints for its end users."""
