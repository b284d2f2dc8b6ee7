"""The audit log: who changed what, when, under which request."""
