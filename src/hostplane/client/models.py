"""Typed answers. Each model names the fields a caller relies on and keeps every other field the
server sends (`extra="allow"`: `sandbox.url_info` works though it is not declared here). URLs are
the server's: the client never builds a hostname."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Organization(Model):
    id: str
    name: str
    slug: str
    setup_required: bool = False
    setup_reason: str | None = None


class Workspace(Model):
    id: str
    name: str
    slug: str
    external_workspace_id: str | None = None
    is_default: bool = False
    reused: bool = False


class Project(Model):
    id: str
    workspace_id: str
    name: str
    slug: str
    external_project_id: str | None = None
    production_deployment_id: str | None = None
    reused: bool = False


class Owned(Model):
    id: str
    workspace_id: str | None = None
    project_id: str | None = None
    external_workspace_id: str | None = None
    external_project_id: str | None = None
    external_user_id: str | None = None


class Sandbox(Owned):
    slug: str
    state: str
    ready: bool = False
    status_reason: str | None = None
    preview_url: str | None = None


class ExecResult(Model):
    stdout: str
    stderr: str
    exit_code: int
    timed_out: bool = False


class Process(Model):
    id: str
    command: str
    state: str
    exit_code: int | None = None
    output_bytes: int = 0


class Output(Model):
    output: str
    offset: int
    next_offset: int
    done: bool
    truncated: bool = False


class Ports(Model):
    sandbox_id: str
    ports: list[dict[str, Any]]


class Preview(Model):
    id: str
    port: int
    url: str


class Deployment(Owned):
    name: str
    slug: str
    state: str
    url: str
    public_url: str
    url_source: str | None = None
    urls: dict[str, Any] = {}


class Database(Owned):
    name: str | None = None
    state: str
    engine: str | None = None


class Computer(Owned):
    name: str
    status: str
    desktop_url: str | None = None


class DnsRecord(Model):
    purpose: str
    type: str
    name: str
    host: str
    value: str
    required: bool = True
    status: str | None = None
    observed: list[str] = []


class DomainError(Model):
    code: str
    message: str
    fix: str | None = None
    actor: str | None = None


class OrganizationDomain(Model):
    """The preview or deployment domain."""

    kind: str
    domain: str | None = None
    status: str
    verified: bool = False
    active_domain: str | None = None
    dns_records: list[DnsRecord] = []
    instructions: str | None = None
    errors: list[DomainError] = []
    last_checked_at: datetime | None = None
    next_check_at: datetime | None = None


class CustomDomain(Model):
    id: str
    domain: str
    status: str
    state: str
    verified: bool = False
    target_type: str
    target_id: str
    dns_records: list[DnsRecord] = []
    instructions: str | None = None
    errors: list[DomainError] = []
    last_checked_at: datetime | None = None
    next_check_at: datetime | None = None


class DomainEvent(Model):
    event: str
    from_status: str | None = None
    to_status: str
    domain: str
    detail: str | None = None
    created_at: datetime


class Branding(Model):
    product_name: str | None = None
    logo_url: str | None = None
    support_url: str | None = None
    desktop_wallpaper_url: str | None = None
    powered_by_visible: bool = True
    wallpaper: dict[str, Any] | None = None
    logo: dict[str, Any] | None = None


class BrowserToken(Model):
    id: str
    permissions: list[str]
    expires_at: datetime
    status: str
    external_user_id: str | None = None
    workspace_id: str | None = None
    project_id: str | None = None
    token: str | None = None  # only in the answer to a create


class ApiKey(Model):
    id: str
    name: str
    key_prefix: str
    scopes: list[str]
    status: str
    key: str | None = None  # only in the answer to a create or rotate


class ChecklistItem(Model):
    key: str
    title: str
    status: str
    detail: str
    next: str | None = None


class Checklist(Model):
    items: list[ChecklistItem]
    done: int
    todo: int
    optional: int
    complete: bool
    next: str | None = None


class AuditEvent(Model):
    id: str
    actor_type: str
    actor_id: str
    action: str
    resource_type: str
    resource_id: str | None = None
    request_id: str
    created_at: datetime


class Event(Model):
    id: int  # grows in commit order: the cursor
    type: str
    object_type: str
    object_id: str
    workspace_id: str | None = None
    project_id: str | None = None
    external_workspace_id: str | None = None
    external_project_id: str | None = None
    data: dict[str, Any] = {}
    created_at: datetime


class Webhook(Model):
    id: str
    url: str
    events: list[str]
    description: str | None = None
    enabled: bool
    state: str
    disabled_reason: str | None = None
    failures: int = 0
    created_at: datetime


class WebhookCreated(Model):
    """A new webhook (or a rotated secret): `secret` is shown in this answer only."""

    data: Webhook
    secret: str


class WebhookDelivery(Model):
    id: str
    webhook_id: str
    event_id: int | None = None
    event_type: str
    attempt: int
    status: str
    success: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: int
    created_at: datetime
