"""Request and response shapes for sandboxes (contract §8.1, §8.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from hostplane.inputs import Text
from hostplane.resources.inputs import Env, Metadata, Name, OwnershipInput, SlugText, owned_fields

Size = Literal["xs", "small", "medium", "large", "xl"]
SIZES: dict[str, tuple[int, int]] = {  # cpu_count, memory_mb (contract §8.1)
    "xs": (1, 2048), "small": (2, 4096), "medium": (4, 8192), "large": (8, 16384), "xl": (16, 32768),
}
DEFAULT_SIZE = "small"
DEFAULT_DISK_MB = 10240
DEFAULT_PREVIEW_PORT = 5173  # the spec's example port (Vite); `preview_url` uses it until one is exposed
Seconds = Annotated[int, Field(ge=0, le=30 * 86400)]
Tag = Text(1, 64)


class SandboxCreate(OwnershipInput):
    template_id: Text(1, 200) | None = None  # type: ignore[valid-type]
    image: Text(1, 200) | None = None  # type: ignore[valid-type]
    name: Name | None = None
    slug: SlugText | None = None
    size: Size | None = None
    cpu_count: Annotated[int, Field(ge=1, le=64)] | None = None
    memory_mb: Annotated[int, Field(ge=128, le=262144)] | None = None
    disk_mb: Annotated[int, Field(ge=256, le=1048576)] | None = None
    disk_size_mb: Annotated[int, Field(ge=256, le=1048576)] | None = None
    timeout_sec: Seconds | None = None
    idle_timeout_sec: Seconds | None = None
    persistent: StrictBool = False
    always_on: StrictBool = False
    visibility: Literal["public", "private"] = Field(
        "public", description="private: its previews open only with a browser token holding "
                              "preview:read for it")
    mask_request_host: StrictBool = Field(
        True, description="The app sees Host: localhost:{port} (dev servers' host checks pass)")
    env: Env | None = None
    metadata: Metadata | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None

    @model_validator(mode="after")
    def _template(self) -> SandboxCreate:
        self.template_id = self.template_id or self.image or "miosa-sandbox"
        return self

    def shape(self) -> tuple[str | None, int, int, int]:
        """size, cpu_count, memory_mb, disk_mb: a tier, or the numbers given (an off-tier shape)."""
        cpu, memory = SIZES[self.size or DEFAULT_SIZE]
        size = self.size or (None if self.cpu_count or self.memory_mb else DEFAULT_SIZE)
        return (size, self.cpu_count or cpu, self.memory_mb or memory,
                self.disk_mb or self.disk_size_mb or DEFAULT_DISK_MB)


class SandboxUpdate(BaseModel):
    """PATCH /sandboxes/{id}: what may change on a running sandbox."""

    model_config = ConfigDict(extra="ignore")

    name: Name | None = None
    visibility: Literal["public", "private"] | None = None
    mask_request_host: StrictBool | None = None


class SandboxPublic(BaseModel):
    id: str
    object: str = "sandbox"
    tenant_id: str
    name: str | None
    slug: str
    state: str
    ready: bool
    status_reason: str | None
    template_id: str
    image_id: str
    workspace_id: str
    project_id: str
    external_workspace_id: str | None
    external_project_id: str | None
    external_user_id: str | None
    size: str | None
    cpu_count: int
    memory_mb: int
    disk_mb: int
    disk_size_mb: int
    timeout_sec: int | None
    idle_timeout_sec: int | None
    persistent: bool
    always_on: bool
    visibility: str
    mask_request_host: bool
    metadata: dict[str, Any]
    tags: list[str]
    preview_url: str
    preview_domain: str
    url_info: dict[str, Any]
    url_class: str = "temporary_preview"
    stable_for_embedding: bool = False
    recommended_next_action: str = "create_alias_or_publish"
    isolation: str | None = None
    created_at: datetime
    inserted_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ready_at: datetime | None
    destroyed_at: datetime | None
    total_runtime_sec: float

    @classmethod
    def of(cls, view: Any) -> SandboxPublic:
        s = view.sandbox
        return cls(
            **owned_fields(s),
            id=s.id, name=s.name, slug=s.slug, state=s.state,
            ready=s.state == "running", status_reason=s.status_reason,
            template_id=s.template_id, image_id=s.template_id, size=s.size, cpu_count=s.cpu_count, memory_mb=s.memory_mb, disk_mb=s.disk_mb,
            disk_size_mb=s.disk_mb, timeout_sec=s.timeout_sec,
            idle_timeout_sec=s.idle_timeout_sec, persistent=s.persistent,
            always_on=s.always_on, visibility=s.visibility,
            mask_request_host=s.mask_request_host, metadata=s.meta or {}, tags=s.tags or [],
            preview_url=view.preview_url, preview_domain=view.preview_domain,
            url_info={"url": view.preview_url, "port": view.preview_port,
                      "host_pattern": f"{{port}}-{s.slug}.sandbox.{view.preview_domain}",
                      "preview_domain": view.preview_domain},
            isolation=view.isolation if s.state == "running" else None,
            created_at=s.created_at, inserted_at=s.created_at, updated_at=s.updated_at,
            started_at=s.started_at, ready_at=s.started_at, destroyed_at=s.destroyed_at,
            total_runtime_sec=round(view.runtime_seconds, 3),
        )
