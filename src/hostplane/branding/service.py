"""Reading and changing an organization's branding: PUT is a merge, DELETE resets to defaults.
Values are checked by `rules`; uploaded and fetched images are recorded under `assets`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hostplane.branding import rules
from hostplane.branding.assets import CheckedImage
from hostplane.branding.models import Branding
from hostplane.db.helpers import after_commit, try_insert
from hostplane.db.scope import Scope

FIELDS = ("product_name", "logo_url", "favicon_url", "support_url", "support_email",
          "primary_color", "background_color", "custom_css", "desktop_wallpaper_url",
          "powered_by_visible")
_CHECKS = {"logo_url": rules.url, "favicon_url": rules.url, "support_url": rules.url,
           "desktop_wallpaper_url": rules.url, "support_email": rules.email,
           "primary_color": rules.color, "background_color": rules.color,
           "custom_css": rules.css}
WALLPAPER, LOGO = "wallpaper", "logo"


def get_branding(scope: Scope) -> Branding | None:
    return scope.find(Branding)


def update_branding(scope: Scope, changes: dict[str, tuple[Any, str]],
                    now: datetime) -> Branding:
    """Apply `changes` ({field: (value, the name it was sent as)}); a null resets that field.
    A new desktop_wallpaper_url is fetched and checked by the worker (`assets.wallpaper`)."""
    checked = {name: _CHECKS[name](value, sent) if value is not None and name in _CHECKS
               else value for name, (value, sent) in changes.items()}
    record = _row(scope, now)
    if "powered_by_visible" in checked and checked["powered_by_visible"] is None:
        checked["powered_by_visible"] = True  # its default
    old_wallpaper = record.desktop_wallpaper_url
    for name, value in checked.items():
        setattr(record, name, value)
    assets = dict(record.assets or {})
    current = assets.get(WALLPAPER) or {}
    again = current.get("status") == "failed"  # the same URL once more: try again
    if "desktop_wallpaper_url" in checked and (
            checked["desktop_wallpaper_url"] != old_wallpaper or again):
        if current.get("source") == "url" or checked["desktop_wallpaper_url"] is not None:
            assets.pop(WALLPAPER, None)
        if checked["desktop_wallpaper_url"] is not None:
            assets[WALLPAPER] = {"source": "url", "status": "fetching",
                                 "source_url": checked["desktop_wallpaper_url"]}
        record.assets = assets
    logo = (record.assets or {}).get(LOGO)
    if logo and "logo_url" in checked and checked["logo_url"] != logo.get("url"):
        record.assets = {k: v for k, v in record.assets.items() if k != LOGO}  # replaced
    record.updated_at = now
    scope.session.flush()
    return record


def reset_branding(scope: Scope, remove_files: Any) -> None:
    """Back to the platform's defaults; uploaded files are deleted once that has committed."""
    record = scope.find(Branding)
    if record is not None:
        scope.session.delete(record)
        scope.session.flush()
        after_commit(scope.session, lambda: remove_files(scope.tenant_id))


def _row(scope: Scope, now: datetime) -> Branding:
    record = scope.find(Branding)
    if record is None:
        record = Branding(tenant_id=scope.tenant_id, assets={}, powered_by_visible=True,
                          updated_at=now)
        if not try_insert(scope.session, record):  # made concurrently: change that one
            record = scope.find(Branding)
    assert record is not None
    return record


def is_applied(record: Branding | None) -> bool:
    """Anything set beyond the defaults (for the setup checklist)."""
    return record is not None and (
        any(getattr(record, f) is not None for f in FIELDS if f != "powered_by_visible")
        or not record.powered_by_visible or bool(record.assets))


def record_asset(scope: Scope, kind: str, url: str, image: CheckedImage, source: str,
                 now: datetime, source_url: str | None = None) -> Branding:
    """An image is in place: the branding points at it (logo_url or desktop_wallpaper_url) and
    `assets[kind]` says what it is."""
    record = _row(scope, now)
    record.assets = {**(record.assets or {}), kind: {
        "url": url, "source": source, "status": "ready", "content_type": image.content_type,
        "width": image.width, "height": image.height, "size_bytes": image.size_bytes,
        "warnings": list(image.warnings), "source_url": source_url}}
    if kind == LOGO:
        record.logo_url = url
    else:
        record.desktop_wallpaper_url = source_url or url
    record.updated_at = now
    scope.session.flush()
    return record


def record_fetched(scope: Scope, url: str, image: CheckedImage, source_url: str,
                   now: datetime) -> Branding | None:
    """The worker fetched the wallpaper at `source_url` (stored only if it is still the one
    asked for: a PUT meanwhile wins)."""
    record = scope.find(Branding)
    current = (record.assets or {}).get(WALLPAPER) if record else None
    if record is None or not current or current.get("source_url") != source_url:
        return record
    return record_asset(scope, WALLPAPER, url, image, "url", now, source_url=source_url)


def record_fetch_failure(scope: Scope, source_url: str, error: dict[str, str],
                         now: datetime) -> Branding | None:
    """The wallpaper at `source_url` could not be used (only if it is still the one asked for)."""
    record = scope.find(Branding)
    current = (record.assets or {}).get(WALLPAPER) if record else None
    if record is None or not current or current.get("source_url") != source_url:
        return record
    record.assets = {**record.assets, WALLPAPER: {**current, "status": "failed", "error": error}}
    record.updated_at = now
    scope.session.flush()
    return record
