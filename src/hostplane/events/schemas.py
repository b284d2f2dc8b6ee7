"""What an event looks like to API clients and stream subscribers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from hostplane.events.models import Event


class EventPublic(BaseModel):
    id: int  # grows in commit order: the cursor (`after`) and the stream's Last-Event-ID
    type: str
    object_type: str
    object_id: str
    workspace_id: str | None
    project_id: str | None
    external_workspace_id: str | None
    external_project_id: str | None
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, event: Event) -> EventPublic:
        return cls.model_validate(event, from_attributes=True)
