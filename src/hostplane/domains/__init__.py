"""Domains: the organization's preview and deployment domains (and, later, exact custom domains)."""
