"""Imports every table so metadata is complete for migrations and checks."""

from hostplane.db.base import Base
from hostplane.domains.models import CustomDomain, DomainClaim, DomainEvent, TenantDomain
from hostplane.idempotency.models import IdempotencyRecord
from hostplane.keys.models import ApiKey
from hostplane.resources.models import Computer, Database, Deployment, Sandbox, SandboxPreview
from hostplane.tenancy.models import Project, Tenant, Workspace

__all__ = [
    "ApiKey",
    "Base",
    "Computer",
    "CustomDomain",
    "Database",
    "Deployment",
    "DomainClaim",
    "DomainEvent",
    "IdempotencyRecord",
    "Project",
    "Sandbox",
    "SandboxPreview",
    "Tenant",
    "TenantDomain",
    "Workspace",
]
