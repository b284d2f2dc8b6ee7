"""Reading and changing an organization's branding: PUT is a merge, DELETE resets to defaults.
Values are checked by `rules`; uploaded and fetched images are recorded under `assets`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hostplane import errors
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


def update_branding(scope: Scope, sent: dict[str, list[tuple[Any, str]]],
                    now: datetime) -> Branding:
    """Apply what was sent ({field: [(value, the name it was sent as), …]}); a null resets that
    field. A new desktop_wallpaper_url is fetched and checked by the worker
    (`assets.wallpaper`)."""
    record = _row(scope, now)
    changes = {name: _one(getattr(record, name), values) for name, values in sent.items()}
    checked = {name: _CHECKS[name](value, as_sent) if value is not None and name in _CHECKS
               else value for name, (value, as_sent) in changes.items()}
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
        assets.pop(WALLPAPER, None)  # a new URL, or none: the old image no longer applies
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


def _one(current: Any, values: list[tuple[Any, str]]) -> tuple[Any, str]:
    """One value from a field's aliases: where they differ, the one that changes something
    (GET, edit product_name, PUT it all back leaves app_name as it was); else 422."""
    distinct = {repr(v): (v, n) for v, n in values}
    if len(distinct) > 1:
        distinct = {k: vn for k, vn in distinct.items() if vn[0] != current}
    if len(distinct) > 1:
        (_, first), (_, second) = list(distinct.values())[:2]
        raise errors.Invalid(f"{first} and {second} name the same setting with different values.",
                             field=second, code="ALIAS_CONFLICT",
                             rule="send one of them, or equal values",
                             fix=f"Send only {first}.")
    return next(iter(distinct.values())) if distinct else values[0]


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
                 now: datetime, source_url: str | None = None,
                 forget: Any = None) -> Branding:
    """An image is in place: the branding points at it (logo_url or desktop_wallpaper_url) and
    `assets[kind]` says what it is. The image it replaces is deleted (`forget(tenant_id, url,
    keep)`) once that has committed."""
    record = _row(scope, now)
    replaced = ((record.assets or {}).get(kind) or {}).get("url")
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
    if forget is not None and replaced and replaced != url:
        keep = {a.get("url") for a in record.assets.values()}
        after_commit(scope.session, lambda: forget(scope.tenant_id, replaced, keep))
    return record


def record_fetched(scope: Scope, url: str, image: CheckedImage, source_url: str,
                   now: datetime, forget: Any = None) -> Branding | None:
    """The worker fetched the wallpaper at `source_url` (stored only if it is still the one
    asked for: a PUT meanwhile wins)."""
    record = scope.find(Branding)
    current = (record.assets or {}).get(WALLPAPER) if record else None
    if record is None or not current or current.get("source_url") != source_url:
        return record
    return record_asset(scope, WALLPAPER, url, image, "url", now, source_url=source_url,
                        forget=forget)


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
