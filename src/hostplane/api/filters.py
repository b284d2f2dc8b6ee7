"""The list filters every resource route accepts (contract §4), as one dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from hostplane.inputs import Text
from hostplane.resources.common import ResourceFilters

Filter = Annotated[Text(1, 200) | None, Query()]  # type: ignore[valid-type]


async def resource_filters(
    workspace_id: Filter = None,
    project_id: Filter = None,
    state: Filter = None,
    external_workspace_id: Filter = None,
    external_project_id: Filter = None,
    external_user_id: Filter = None,
) -> ResourceFilters:
    return ResourceFilters(
        workspace_id=workspace_id, project_id=project_id, state=state,
        external_workspace_id=external_workspace_id, external_project_id=external_project_id,
        external_user_id=external_user_id,
    )


Filters = Annotated[ResourceFilters, Depends(resource_filters)]
