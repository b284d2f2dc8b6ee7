"""Request and response shapes for computers (contract §11.1): bare objects, validated as
`Computer` by the official Python client."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, field_validator

from hostplane import errors
from hostplane.inputs import Text
from hostplane.resources.inputs import (
    Metadata,
    Name,
    OwnershipInput,
    RenameUpdate,
    SlugText,
    owned_fields,
)

Size = Literal["xs", "small", "medium", "large", "xl"]
Visibility = Literal["public", "tenant", "key"]
Status = Literal["creating", "provisioning", "starting", "running", "active", "paused",
                 "stopping", "stopped", "error", "destroying", "destroyed"]


def _size_alias(value: Any) -> Any:
    return "xl" if value == "xlarge" else value  # the SDK's own spelling of xl


class ComputerCreate(OwnershipInput):
    name: Name
    slug: SlugText | None = None
    template_type: Text(1, 200) = "miosa-desktop"  # type: ignore[valid-type]
    size: Size = "small"
    visibility: Visibility = "tenant"
    metadata: Metadata | None = None
    # The desktop's display, "WIDTHxHEIGHT" (default 1920x1080).
    resolution: Text(3, 11) | None = None  # type: ignore[valid-type]

    _size = field_validator("size", mode="before")(_size_alias)

    def screen(self) -> tuple[int, int]:
        """The display size asked for, checked: 640x480 to 3840x2160."""
        if self.resolution is None:
            return 1920, 1080
        width, _, height = self.resolution.lower().partition("x")
        if not (width.isdigit() and height.isdigit() and 640 <= int(width) <= 3840
                and 480 <= int(height) <= 2160):
            raise errors.Invalid(f"resolution {self.resolution!r} is not a display size.",
                                 field="resolution", rule="WIDTHxHEIGHT, 640x480 to 3840x2160",
                                 fix="Send e.g. '1920x1080' or '1280x800'.")
        return int(width), int(height)


class ComputerPublic(BaseModel):
    id: str
    object: str = "computer"
    tenant_id: str
    name: str
    slug: str
    status: Status
    state: Status
    status_reason: str | None
    template_type: str
    size: Size
    visibility: Visibility
    ip_address: str | None = None
    desktop_url: str
    sandbox_url: str
    urls: dict[str, Any]
    workspace_id: str
    project_id: str
    external_workspace_id: str | None
    external_project_id: str | None
    external_user_id: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: Any) -> ComputerPublic:
        c, urls = view.computer, view.urls
        return cls(
            **owned_fields(c),
            id=c.id, name=c.name or c.slug, slug=c.slug, status=c.state,
            state=c.state, status_reason=c.status_reason, template_type=c.template_type,
            size=c.size, visibility=c.visibility, desktop_url=urls.desktop_url,
            sandbox_url=urls.sandbox_url,
            urls={"desktop": urls.desktop_url, "desktop_host": urls.desktop_host_url,
                  "sandbox": urls.sandbox_url, "custom": list(urls.custom)},
            metadata=c.meta or {}, created_at=c.created_at, updated_at=c.updated_at,
        )


class ComputerList(BaseModel):
    computers: list[ComputerPublic]
    total: int
    next_cursor: str | None


class ActionResponse(BaseModel):
    success: bool = True
    id: str
    status: str
    message: str


ComputerUpdate = RenameUpdate
