"""The branding table: one row per organization that has set anything (none means defaults)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hostplane.db.base import Base, JSONType, TenantOwned, new_id


class Branding(TenantOwned, Base):
    __tablename__ = "tenant_branding"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    product_name: Mapped[str | None] = mapped_column(String(100))
    logo_url: Mapped[str | None] = mapped_column(String(2048))
    favicon_url: Mapped[str | None] = mapped_column(String(2048))
    support_url: Mapped[str | None] = mapped_column(String(2048))
    support_email: Mapped[str | None] = mapped_column(String(254))
    primary_color: Mapped[str | None] = mapped_column(String(9))
    background_color: Mapped[str | None] = mapped_column(String(9))
    custom_css: Mapped[str | None] = mapped_column(Text)
    desktop_wallpaper_url: Mapped[str | None] = mapped_column(String(2048))
    powered_by_visible: Mapped[bool] = mapped_column(default=True)
    # Uploaded or fetched images: {kind: {url, content_type, width, height, size_bytes, sha256,
    # source, status, warnings, error}}; kind is "wallpaper" or "logo".
    assets: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime]
