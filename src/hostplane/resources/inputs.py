"""Request fields every resource create shares: the ownership selectors (spec §2)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hostplane.inputs import JsonObject, RawText, Text

Name = Text(1, 200)
ExternalId = Text(1, 200)
SlugText = Text(1, 63)
Metadata = JsonObject
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
EnvValue = RawText(0, 32768)
Env = Annotated[dict[EnvName, EnvValue], Field(max_length=200)]


class RenameUpdate(BaseModel):
    """PATCH of a computer or database: a new name and/or metadata."""

    model_config = ConfigDict(extra="ignore")

    name: Name | None = None
    metadata: Metadata | None = None


def owned_fields(resource: Any) -> dict[str, Any]:
    """The ownership fields every resource response carries (spec §2: store these ids)."""
    return {
        "tenant_id": resource.tenant_id,
        "workspace_id": resource.workspace_id,
        "project_id": resource.project_id,
        "external_workspace_id": resource.external_workspace_id,
        "external_project_id": resource.external_project_id,
        "external_user_id": resource.external_user_id,
    }


class OwnershipInput(BaseModel):
    """Where a new resource goes: any of these (spec §2); none means the default workspace and
    its default project. Unknown fields are ignored, wrong types refused."""

    model_config = ConfigDict(extra="ignore")

    workspace_id: ExternalId | None = None
    workspace_slug: SlugText | None = None
    workspace_name: Name | None = None
    project_id: ExternalId | None = None
    project_slug: SlugText | None = None
    project_name: Name | None = None
    external_workspace_id: ExternalId | None = None
    external_project_id: ExternalId | None = None
    external_user_id: ExternalId | None = None
