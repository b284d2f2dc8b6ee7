"""Branding bodies and the response (contract §14): the spec's flat names, the Python/TS clients'
`{"branding": {...}}` wrapper and the Go client's flat names are all accepted, and the response
is one bare object that carries every alias."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from hostplane.branding.models import Branding
from hostplane.inputs import RawText, Text
from hostplane.tenancy.schemas import Input

Url = Text(1, 2048)

# Each stored field and the names clients send it as (contract §14's aliases).
ALIASES: dict[str, tuple[str, ...]] = {
    "product_name": ("product_name", "custom_app_name", "app_name"),
    "logo_url": ("logo_url", "custom_logo_url"),
}


class BrandingFields(Input):
    product_name: Text(1, 100) | None = Field(None, description="Also custom_app_name, app_name")
    custom_app_name: Text(1, 100) | None = None
    app_name: Text(1, 100) | None = None
    logo_url: Url | None = Field(None, description="Also custom_logo_url")
    custom_logo_url: Url | None = None
    favicon_url: Url | None = None
    support_url: Url | None = None
    support_email: Text(3, 254) | None = None
    primary_color: Text(4, 9) | None = Field(None, description="#rgb or #rrggbb")
    background_color: Text(4, 9) | None = None
    custom_css: RawText(0, 200_000) | None = Field(
        None, description="At most 50 KB; no @import, no escapes, url() only with data:")
    desktop_wallpaper_url: Url | None = Field(
        None, description="PNG or JPEG, at most 5 MB, 1920×1080 recommended; fetched and "
                          "checked by the worker")
    powered_by_visible: bool | None = Field(None, description="Default true")

    def sent(self) -> dict[str, list[tuple[Any, str]]]:
        """{stored field: [(value, name it was sent as), …]} for the fields this body names
        (aliases of one field may all be sent: a client that PUTs back what GET answered)."""
        found: dict[str, list[tuple[Any, str]]] = {}
        for name in (n for n in type(self).model_fields
                     if n in self.model_fields_set and n != "branding"):
            stored = next((k for k, names in ALIASES.items() if name in names), name)
            found.setdefault(stored, []).append((getattr(self, name), name))
        return found


class BrandingBody(BrandingFields):
    branding: BrandingFields | None = Field(
        None, description="The official Python/TypeScript clients wrap the fields in this key; "
                          "fields beside it count too")

    def sent(self) -> dict[str, list[tuple[Any, str]]]:
        found = super().sent()
        for stored, values in (self.branding.sent() if self.branding else {}).items():
            found.setdefault(stored, []).extend(values)
        return found


class Asset(BaseModel):
    url: str | None = None
    source: str = Field(description="upload | url")
    status: str = Field(description="ready | fetching | failed")
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    source_url: str | None = None
    warnings: list[str] = []
    error: dict[str, str] | None = None


class BrandingPublic(BaseModel):
    product_name: str | None
    custom_app_name: str | None
    app_name: str | None
    logo_url: str | None
    custom_logo_url: str | None
    favicon_url: str | None
    support_url: str | None
    support_email: str | None
    primary_color: str | None
    background_color: str | None
    custom_css: str | None
    desktop_wallpaper_url: str | None
    powered_by_visible: bool
    wallpaper: Asset | None = None
    logo: Asset | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, record: Branding | None) -> BrandingPublic:
        if record is None:
            return cls(**{name: None for name in _NULLABLE}, powered_by_visible=True)
        assets = record.assets or {}
        logo, wallpaper = assets.get("logo"), assets.get("wallpaper")
        logo_url = record.logo_url
        return cls(
            product_name=record.product_name, custom_app_name=record.product_name,
            app_name=record.product_name, logo_url=logo_url, custom_logo_url=logo_url,
            favicon_url=record.favicon_url, support_url=record.support_url,
            support_email=record.support_email, primary_color=record.primary_color,
            background_color=record.background_color, custom_css=record.custom_css,
            desktop_wallpaper_url=record.desktop_wallpaper_url, powered_by_visible=record.powered_by_visible,
            wallpaper=Asset(**wallpaper) if wallpaper else None,
            logo=Asset(**logo) if logo else None, updated_at=record.updated_at)


_NULLABLE = [name for name, field in BrandingPublic.model_fields.items()
             if name != "powered_by_visible"]
