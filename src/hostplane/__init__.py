"""hostplane: a self-hostable white-label platform API."""

__version__ = "0.1.0"
