"""Resource tables: sandboxes (and their previews), databases, deployments and computers.

Every resource belongs to one project (and so one workspace) and keeps the organization's own
external ids for filtering and chargeback. A destroyed resource keeps its row (`destroyed_at` set)
so usage over a past period still counts it; deployment slugs are unique only among live rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from hostplane.db.base import Base, JSONType, TenantOwned, Timestamped, new_id

LIVE = text("destroyed_at IS NULL")


class OwnedResource(TenantOwned, Timestamped):
    """The columns every resource shares: ownership, attribution, state and lifetime."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    external_workspace_id: Mapped[str | None] = mapped_column(String(200))
    external_project_id: Mapped[str | None] = mapped_column(String(200))
    external_user_id: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    destroyed_at: Mapped[datetime | None]

    @declared_attr
    def workspace_id(cls) -> Mapped[str]:
        return mapped_column(String(36), ForeignKey("workspaces.id", ondelete="CASCADE"))

    @declared_attr
    def project_id(cls) -> Mapped[str]:
        return mapped_column(String(36), ForeignKey("projects.id", ondelete="CASCADE"), index=True)


def _owned_indexes(table: str) -> tuple[Index, ...]:
    """Lists filter by these within an organization, newest pages first by (created_at, id)."""
    return (
        Index(f"ix_{table}_tenant_id_created_at", "tenant_id", "created_at", "id"),
        Index(f"ix_{table}_tenant_id_workspace_id", "tenant_id", "workspace_id"),
        Index(f"ix_{table}_tenant_id_external_user_id", "tenant_id", "external_user_id"),
    )


class Sandbox(OwnedResource, Base):
    """A sandbox: a place to run generated code, with preview URLs per port."""

    __tablename__ = "sandboxes"
    __table_args__ = _owned_indexes("sandboxes")

    slug: Mapped[str] = mapped_column(String(63), unique=True)  # unique across the platform
    template_id: Mapped[str] = mapped_column(String(200))
    size: Mapped[str | None] = mapped_column(String(8))
    cpu_count: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    disk_mb: Mapped[int] = mapped_column(Integer)
    timeout_sec: Mapped[int | None] = mapped_column(Integer)
    idle_timeout_sec: Mapped[int | None] = mapped_column(Integer)
    persistent: Mapped[bool] = mapped_column(Boolean, default=False)
    always_on: Mapped[bool] = mapped_column(Boolean, default=False)
    env: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)
    # When the current run began: timeout_sec counts from it (started_at is the first start).
    last_started_at: Mapped[datetime | None]
    # Who may open its previews through the edge: anyone (public), or a browser token holding
    # preview:read for it (private). A port's own visibility (SandboxPreview) can only narrow it.
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    # The edge sends `Host: localhost:{port}` (the original in X-Forwarded-Host), so dev servers'
    # host checks pass; off, the sandbox sees the public host.
    mask_request_host: Mapped[bool] = mapped_column(Boolean, default=True)


class SandboxPreview(TenantOwned, Timestamped, Base):
    """A port of a sandbox published at its preview URL."""

    __tablename__ = "sandbox_previews"
    __table_args__ = (UniqueConstraint("sandbox_id", "port"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sandboxes.id", ondelete="CASCADE")
    )
    port: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(200))
    visibility: Mapped[str] = mapped_column(String(16), default="public")


class Database(OwnedResource, Base):
    """A database the organization's app stores data in ("form submissions")."""

    __tablename__ = "databases"
    __table_args__ = _owned_indexes("databases")

    engine: Mapped[str] = mapped_column(String(32))
    engine_version: Mapped[str | None] = mapped_column(String(32))
    cpu_count: Mapped[int | None] = mapped_column(Integer)
    memory_mb: Mapped[int | None] = mapped_column(Integer)
    storage_mb: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(64))
    # The engine's password for this database: shown only by GET …/credentials, never logged.
    secret: Mapped[str | None] = mapped_column(String(200))


class Deployment(OwnedResource, Base):
    """A durable deployment ("production lead magnet"); its slug names its URLs."""

    __tablename__ = "deployments"
    __table_args__ = (
        *_owned_indexes("deployments"),
        Index(
            "uq_deployments_tenant_id_slug_live",
            "tenant_id",
            "slug",
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        ),
    )

    slug: Mapped[str] = mapped_column(String(63))
    source_type: Mapped[str | None] = mapped_column(String(16))
    repo_url: Mapped[str | None] = mapped_column(String(2000))
    branch: Mapped[str | None] = mapped_column(String(200))
    build_command: Mapped[str | None] = mapped_column(String(2000))
    run_command: Mapped[str | None] = mapped_column(String(2000))
    auto_deploy: Mapped[bool] = mapped_column(Boolean, default=False)
    active_version_id: Mapped[str | None] = mapped_column(String(36))


class Computer(OwnedResource, Base):
    """A desktop computer, reached at its desktop URL."""

    __tablename__ = "computers"
    __table_args__ = _owned_indexes("computers")

    slug: Mapped[str] = mapped_column(String(63), unique=True)  # unique across the platform
    template_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[str] = mapped_column(String(8))
    visibility: Mapped[str] = mapped_column(String(16), default="tenant")


class DeploymentVersion(TenantOwned, Base):
    """One immutable release of a deployment: a manifest of content-addressed files."""

    __tablename__ = "deployment_versions"
    __table_args__ = (UniqueConstraint("deployment_id", "version_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default="static")
    state: Mapped[str] = mapped_column(String(16))  # created | building | ready | failed
    source: Mapped[str] = mapped_column(String(80))  # sandbox:{id} | upload
    digest: Mapped[str | None] = mapped_column(String(64))
    # {path: {sha256, size, content_type}}
    artifact_manifest: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    total_bytes: Mapped[int] = mapped_column(Integer, default=0)
    entrypoint: Mapped[str | None] = mapped_column(String(500))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    created_at: Mapped[datetime]
