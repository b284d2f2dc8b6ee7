"""Request and response shapes for sandbox previews (contract §8.3)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hostplane.resources.inputs import Name

Port = Annotated[int, Field(ge=1, le=65535, description="A TCP port, 1-65535.")]


class ExposeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    port: Port = 5173


class PreviewCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    port: Port
    name: Name | None = None
    visibility: Literal["public", "tenant", "private"] | None = None


class PreviewPublic(BaseModel):
    id: str
    object: str = "preview"
    sandbox_id: str
    port: int
    name: str | None
    visibility: str
    url: str
    preview_url: str
    url_info: dict[str, Any]
    url_class: str = "temporary_preview"
    stable_for_embedding: bool = False
    recommended_next_action: str = "create_alias_or_publish"
    reused: bool
    created_at: datetime

    @classmethod
    def of(cls, view: Any) -> PreviewPublic:
        p = view.preview
        host = view.url.split("://", 1)[1].split("/", 1)[0]
        return cls(id=p.id, sandbox_id=p.sandbox_id, port=p.port, name=p.name,
                   visibility=p.visibility, url=view.url, preview_url=view.url,
                   url_info={"url": view.url, "host": host, "port": p.port}, reused=view.reused,
                   created_at=p.created_at)
