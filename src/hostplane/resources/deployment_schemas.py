"""Request and response shapes for deployments (contract §10.1; validated as `Deployment`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool

from hostplane.inputs import Text
from hostplane.resources.inputs import Metadata, Name, OwnershipInput, SlugText, owned_fields

SourceType = Literal["repo", "git", "sandbox", "upload", "forge"]
Command = Text(0, 2000)


class DeploymentCreate(OwnershipInput):
    name: Name
    slug: SlugText | None = None
    source_type: SourceType | None = None
    repo_url: Text(1, 2000) | None = None  # type: ignore[valid-type]
    branch: Text(1, 200) | None = None  # type: ignore[valid-type]
    build_command: Command | None = None
    run_command: Command | None = None
    auto_deploy: StrictBool = False
    metadata: Metadata | None = None


class DeploymentUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name | None = None
    slug: SlugText | None = None
    branch: Text(1, 200) | None = None  # type: ignore[valid-type]
    build_command: Command | None = None
    run_command: Command | None = None
    auto_deploy: StrictBool | None = None
    metadata: Metadata | None = None


class DeploymentUrlsPublic(BaseModel):
    fallback: str
    branded: str | None
    custom: list[str]


class DeploymentPublic(BaseModel):
    id: str
    object: str = "deployment"
    tenant_id: str
    name: str
    slug: str
    state: Literal["pending", "building", "running", "stopped", "failed"]
    status_reason: str | None
    metadata: dict[str, Any]
    auto_deploy: bool
    source_type: SourceType | None
    repo_url: str | None
    branch: str | None
    build_command: str | None
    run_command: str | None
    workspace_id: str
    project_id: str
    external_workspace_id: str | None
    external_project_id: str | None
    external_user_id: str | None
    public_url: str
    url: str
    url_source: Literal["custom", "branded", "fallback"]
    urls: DeploymentUrlsPublic
    auto_subdomain: str
    active_version_id: str | None = None
    is_production: bool
    created_at: datetime
    inserted_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: Any) -> DeploymentPublic:
        d, urls = view.deployment, view.urls
        return cls(
            **owned_fields(d),
            id=d.id, name=d.name or d.slug, slug=d.slug, state=d.state,
            status_reason=d.status_reason, metadata=d.meta or {}, auto_deploy=d.auto_deploy,
            source_type=d.source_type, repo_url=d.repo_url, branch=d.branch,
            build_command=d.build_command, run_command=d.run_command,
            # Client quirk: the model declares public_url, READMEs read url: both, equal (§18 #12).
            public_url=urls.public_url, url=urls.public_url, url_source=urls.source,
            urls=DeploymentUrlsPublic(**urls.layers()), auto_subdomain=urls.fallback,
            is_production=view.is_production, active_version_id=d.active_version_id,
            created_at=d.created_at, inserted_at=d.created_at, updated_at=d.updated_at,
        )
