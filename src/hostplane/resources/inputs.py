"""Request fields every resource create shares: the ownership selectors (spec §2)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hostplane.inputs import JsonObject, Text

Name = Text(1, 200)
ExternalId = Text(1, 200)
SlugText = Text(1, 63)
Metadata = JsonObject
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
EnvValue = Text(0, 32768)
Env = Annotated[dict[EnvName, EnvValue], Field(max_length=200)]


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
