"""Imports every table so metadata is complete for migrations and checks."""

from hostplane.audit.models import AuditEvent
from hostplane.branding.models import Branding
from hostplane.console.models import ConsoleSession
from hostplane.db.base import Base
from hostplane.domains.models import CustomDomain, DomainClaim, DomainEvent, TenantDomain
from hostplane.events.models import Event
from hostplane.idempotency.models import IdempotencyRecord
from hostplane.keys.models import ApiKey
from hostplane.resources.models import (
    Computer,
    Database,
    Deployment,
    DeploymentVersion,
    Sandbox,
    SandboxPreview,
)
from hostplane.tenancy.models import Project, Tenant, Workspace
from hostplane.tokens.models import BrowserToken, SigningKey, UserRevocation
from hostplane.webhooks.models import Webhook, WebhookDelivery

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Branding",
    "BrowserToken",
    "Computer",
    "ConsoleSession",
    "CustomDomain",
    "Database",
    "Deployment",
    "DeploymentVersion",
    "DomainClaim",
    "DomainEvent",
    "Event",
    "IdempotencyRecord",
    "Project",
    "Sandbox",
    "SandboxPreview",
    "SigningKey",
    "Tenant",
    "TenantDomain",
    "UserRevocation",
    "Webhook",
    "WebhookDelivery",
    "Workspace",
]
