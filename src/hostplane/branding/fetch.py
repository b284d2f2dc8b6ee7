"""The worker job that fetches a `desktop_wallpaper_url`: the same checks as an upload (PNG or
JPEG by content, at most 5 MB), over https only, never from a private, loopback or link-local
address unless the operator allows it (HOSTPLANE_ASSET_FETCH_ALLOW_PRIVATE), and the result
recorded on the branding object."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import select

from hostplane import errors
from hostplane.addresses import NotAllowed, Unresolvable, is_public, pinned_url, resolve_allowed
from hostplane.branding import rules, service
from hostplane.branding.assets import MAX_BYTES, check_image
from hostplane.branding.models import Branding
from hostplane.db.scope import Scope
from hostplane.resources.storage import check_room

if TYPE_CHECKING:
    from hostplane.api.container import Container

log = logging.getLogger("hostplane.worker.branding")
FIELD = "desktop_wallpaper_url"
TIMEOUT = 10.0  # per connect or read
DEADLINE = 30.0  # for the whole fetch
MAX_REDIRECTS = 3


def fetch_wallpapers(container: Container, tenant_ids: list[str] | None = None) -> int:
    """Fetch every wallpaper waiting to be fetched (of `tenant_ids` only, if given)."""
    with container.database.transaction(write=False) as session:
        stmt = select(Branding.tenant_id, Branding.assets)
        if tenant_ids is not None:
            stmt = stmt.where(Branding.tenant_id.in_(tenant_ids))
        due = [(tenant_id, assets["wallpaper"]["source_url"])
               for tenant_id, assets in session.execute(stmt)
               if (assets or {}).get("wallpaper", {}).get("status") == "fetching"]
    for tenant_id, source_url in due:
        try:
            _fetch_one(container, tenant_id, source_url)
        except Exception:  # one organization's URL must never stop the others'
            log.exception("fetching the wallpaper of organization %s failed", tenant_id)
            with container.database.transaction() as session:
                service.record_fetch_failure(
                    Scope(session, tenant_id), source_url,
                    {"code": "WALLPAPER_FETCH_FAILED", "message": "The wallpaper could not be "
                     "fetched.", "fix": "Check the URL, or upload the image instead."},
                    container.clock.now())
    return len(due)


def _fetch_one(container: Container, tenant_id: str, source_url: str) -> None:
    now = container.clock.now()
    try:
        data = fetch(source_url, allow_private=container.settings.asset_fetch_allow_private)
        image = check_image(data, "wallpaper", field=FIELD)
        with container.database.transaction(write=False) as session:
            check_room(Scope(session, tenant_id), container.capacity.storage_quota_mb,
                       len(data), "The wallpaper")
        url = container.assets.save(tenant_id, image, data)
    except errors.HostplaneError as exc:
        failure = {"code": exc.code, "message": exc.message,
                   "fix": str(exc.details.get("fix") or "Fix the image, then set "
                              "desktop_wallpaper_url again.")}
        with container.database.transaction() as session:
            service.record_fetch_failure(Scope(session, tenant_id), source_url, failure, now)
        return
    with container.database.transaction() as session:
        service.record_fetched(Scope(session, tenant_id), url, image, source_url, now,
                               forget=container.assets.forget)
    from hostplane.resources.desktop import refresh_wallpapers  # resources import branding

    refresh_wallpapers(container, tenant_id)  # running desktops wear it now


def fetch(url: str, *, allow_private: bool) -> bytes:
    """The body at `url` (following at most three redirects, each checked like the first),
    read to at most MAX_BYTES + 1, within DEADLINE seconds in all."""
    deadline = time.monotonic() + DEADLINE
    for _ in range(MAX_REDIRECTS + 1):
        rules.url(url, FIELD)
        parts = urlsplit(url)
        address = _address(parts.hostname or "", parts.port, allow_private)
        # Connect to the address just checked, while TLS and Host still name the host.
        pinned = pinned_url(parts, address)
        try:
            with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client, \
                    client.stream("GET", pinned, headers={"Host": parts.netloc},
                                  extensions={"sni_hostname": parts.hostname}) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise _unreachable(url, f"it answered HTTP {response.status_code}")
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_BYTES:
                        break
                    if time.monotonic() > deadline:  # a server dribbling bytes
                        raise _unreachable(url, f"it took over {DEADLINE:.0f} s")
                return bytes(data)
        except httpx.HTTPError as exc:
            raise _unreachable(url, type(exc).__name__) from None
    raise _unreachable(url, f"more than {MAX_REDIRECTS} redirects")


def _address(host: str, port: int | None, allow_private: bool) -> str:
    try:
        return resolve_allowed(host, port or 443,
                               (lambda _: True) if allow_private else is_public)
    except Unresolvable:
        raise _unreachable(host, "its name does not resolve") from None
    except NotAllowed as exc:
        raise errors.Invalid(
            f"{host!r} resolves to {exc.address}, a private or local address.",
            code="WALLPAPER_URL_PRIVATE", field=FIELD,
            rule="images are fetched from public addresses only",
            fix="Host the image publicly, or upload it with PUT "
                "/api/v1/tenant/branding/wallpaper.") from None


def _unreachable(url: str, why: str) -> errors.Invalid:
    return errors.Invalid(f"The wallpaper at {url} could not be fetched: {why}.",
                          code="WALLPAPER_FETCH_FAILED", field=FIELD,
                          rule="an https URL that answers 200 with a PNG or JPEG",
                          fix="Check the URL opens in a browser, or upload the image instead.")
