"""Organization (tenant), workspace and project tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from hostplane.db.base import Base, TenantOwned, Timestamped, new_id


class Tenant(Timestamped, Base):
    """The platform company's account. Its slug is a DNS label and permanent after setup."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), default="")
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    setup_completed_at: Mapped[datetime | None]


class Workspace(TenantOwned, Timestamped, Base):
    """One downstream customer of the organization ("Dr. Smith Clinic")."""

    __tablename__ = "workspaces"
    __table_args__ = (
        UniqueConstraint("tenant_id", "slug"),
        UniqueConstraint("tenant_id", "external_workspace_id"),
        # WORKSPACE_NAME_EXISTS compares names case-insensitively on every create.
        Index("ix_workspaces_tenant_id_name_key", "tenant_id", "name_key"),
        Index(
            "uq_workspaces_default",
            "tenant_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(600))  # name.casefold(), kept by _keep_name_key
    slug: Mapped[str] = mapped_column(String(63))
    description: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        # Python's casefold, not the database's lower(): SQLite lowers ASCII only.
        self.name_key = name.casefold()
        return name
    external_workspace_id: Mapped[str | None] = mapped_column(String(200))
    external_user_id: Mapped[str | None] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class Project(TenantOwned, Timestamped, Base):
    """One thing a workspace builds ("Summer lead magnet"). Every workspace has a default one."""

    __tablename__ = "projects"
    __table_args__ = (
        UniqueConstraint("workspace_id", "slug"),
        UniqueConstraint("tenant_id", "external_project_id"),
        Index(
            "uq_projects_default",
            "workspace_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63))
    description: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    external_project_id: Mapped[str | None] = mapped_column(String(200))
    external_user_id: Mapped[str | None] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # The deployment an exact domain attached to the project routes to (no foreign key: the two
    # tables would refer to each other; a deleted deployment is cleared by the service).
    production_deployment_id: Mapped[str | None] = mapped_column(String(36))
