"""Request and response shapes for publishing (contract §10: PublishResult, DeploymentVersion)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from hostplane.inputs import RawText, Text
from hostplane.resources.deployment_schemas import DeploymentPublic
from hostplane.resources.models import DeploymentVersion
from hostplane.tenancy.schemas import Input


class PublishRequest(Input):
    source_sandbox_id: Text(1, 64)  # type: ignore[valid-type]
    output_path: RawText(1, 1024) | None = Field(  # type: ignore[valid-type]
        None, description="The built site's folder in the sandbox (default /workspace)")
    entrypoint: RawText(1, 500) | None = None  # type: ignore[valid-type]
    promote: bool = Field(True, description="Serve it at once (default); false keeps the "
                                            "current version")


class RollbackRequest(Input):
    version_id: Text(1, 64) | None = Field(  # type: ignore[valid-type]
        None, description="Omitted: the newest ready version before the active one")


class VersionPublic(BaseModel):
    id: str
    object: str = "deployment_version"
    deployment_id: str
    tenant_id: str
    version_number: int
    kind: str
    state: str
    source: str
    digest: str | None
    artifact_manifest: dict[str, Any] = Field(description="{digest, file_count, total_bytes}")
    entrypoint: str | None
    failure_reason: str | None
    metadata: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, v: DeploymentVersion) -> VersionPublic:
        return cls(id=v.id, deployment_id=v.deployment_id, tenant_id=v.tenant_id,
                   version_number=v.version_number, kind=v.kind, state=v.state, source=v.source,
                   digest=v.digest, entrypoint=v.entrypoint, failure_reason=v.failure_reason,
                   artifact_manifest={"digest": v.digest, "total_bytes": v.total_bytes,
                                      "file_count": len(v.artifact_manifest or {})},
                   metadata=v.meta or {}, created_at=v.created_at)


class PublishResult(BaseModel):
    deployment: DeploymentPublic
    version: VersionPublic
    promoted: bool
    services: list[Any] = []
