"""Imports every table so metadata is complete for migrations and checks."""

from hostplane.db.base import Base
from hostplane.idempotency.models import IdempotencyRecord
from hostplane.keys.models import ApiKey
from hostplane.tenancy.models import Project, Tenant, Workspace

__all__ = ["ApiKey", "Base", "IdempotencyRecord", "Project", "Tenant", "Workspace"]
