"""Request and response shapes for organizations, workspaces and projects."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from hostplane.inputs import JsonObject, Text
from hostplane.tenancy.models import Project, Tenant, Workspace
from hostplane.tenancy.organizations import setup_state

Name = Text(1, 200)
ExternalId = Text(1, 200)
SlugText = Text(1, 63)
Description = Text(0, 2000)
Metadata = JsonObject


class Input(BaseModel):
    """Request bodies: unknown fields are ignored, wrong types refused."""

    model_config = ConfigDict(extra="ignore")


class OrganizationUpdate(Input):
    name: Name
    slug: SlugText | None = None


class OrganizationPublic(BaseModel):
    id: str
    name: str
    slug: str
    setup_required: bool
    setup_reason: str | None
    setup_reason_code: str | None
    role: str = "owner"
    email: str | None
    created_at: datetime
    inserted_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> OrganizationPublic:
        state = setup_state(tenant)
        return cls(
            id=tenant.id,
            name=tenant.name,
            slug=tenant.slug,
            setup_required=state.required,
            setup_reason=state.reason,
            setup_reason_code=state.reason_code,
            email=tenant.email,
            created_at=tenant.created_at,
            inserted_at=tenant.created_at,
            updated_at=tenant.updated_at,
        )


class WorkspaceCreate(Input):
    name: Name
    slug: SlugText | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    external_workspace_id: ExternalId | None = None
    external_user_id: ExternalId | None = None
    allow_duplicate_name: StrictBool = False


class WorkspaceUpdate(Input):
    name: Name | None = None
    slug: SlugText | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    external_user_id: ExternalId | None = None


class WorkspacePublic(BaseModel):
    id: str
    tenant_id: str
    name: str
    slug: str
    description: str | None
    metadata: Metadata
    settings: Metadata
    external_workspace_id: str | None
    external_user_id: str | None
    is_default: bool
    created_at: datetime
    updated_at: datetime
    reused: bool = Field(False, description="On create: true when an existing workspace was returned.")

    @classmethod
    def of(cls, ws: Workspace, *, reused: bool = False) -> WorkspacePublic:
        return cls(
            id=ws.id,
            tenant_id=ws.tenant_id,
            name=ws.name,
            slug=ws.slug,
            description=ws.description,
            metadata=ws.meta or {},
            settings=ws.settings or {},
            external_workspace_id=ws.external_workspace_id,
            external_user_id=ws.external_user_id,
            is_default=ws.is_default,
            created_at=ws.created_at,
            updated_at=ws.updated_at,
            reused=reused,
        )


class ProjectCreate(Input):
    name: Name
    workspace_id: ExternalId | None = None
    workspace_slug: SlugText | None = None
    slug: SlugText | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    external_project_id: ExternalId | None = None
    external_user_id: ExternalId | None = None


class ProjectUpdate(Input):
    name: Name | None = None
    slug: SlugText | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    production_deployment_id: ExternalId | None = Field(
        None, description="The deployment an exact domain attached to the project routes to.")


class ProjectMove(Input):
    target_workspace_id: ExternalId


class ProjectPublic(BaseModel):
    id: str
    tenant_id: str
    workspace_id: str
    name: str
    slug: str
    description: str | None
    metadata: Metadata
    external_project_id: str | None
    external_user_id: str | None
    is_default: bool
    production_deployment_id: str | None
    created_at: datetime
    updated_at: datetime
    reused: bool = False

    @classmethod
    def of(cls, project: Project, *, reused: bool = False) -> ProjectPublic:
        return cls(
            id=project.id,
            tenant_id=project.tenant_id,
            workspace_id=project.workspace_id,
            name=project.name,
            slug=project.slug,
            description=project.description,
            metadata=project.meta or {},
            external_project_id=project.external_project_id,
            external_user_id=project.external_user_id,
            is_default=project.is_default,
            production_deployment_id=project.production_deployment_id,
            created_at=project.created_at,
            updated_at=project.updated_at,
            reused=reused,
        )
