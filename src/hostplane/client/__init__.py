"""The Python client library for the hostplane API (sync and async, on httpx)."""

from hostplane.client import errors, models
from hostplane.client.client import AsyncHostplane, Hostplane

__all__ = ["AsyncHostplane", "Hostplane", "errors", "models"]
