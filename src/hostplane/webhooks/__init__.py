"""Webhooks: the event log pushed to an organization's own endpoints, signed, in order."""
