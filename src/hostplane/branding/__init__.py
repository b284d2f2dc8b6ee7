"""Tenant branding: what an organization's users see instead of the platform's name, logo and colours."""
